/** `GET /v1/models`: the routed models this tenant may use, in the OpenAI list shape, each with its `capabilities`. */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { ModelListSchema, type ModelList } from '../../shared/contracts/openai';
import type { AppEnv } from '../env';
import { auth } from '../middleware/auth';
import { BEARER_SECURITY, ERROR_RESPONSES, type RouteDeps } from './common';

/** Models carry no creation time in the route table; report the Unix epoch of this API version. */
const MODELS_CREATED = 1_730_246_400;

export function modelRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const route = createRoute({
    method: 'get',
    path: '/v1/models',
    summary: 'Models this tenant may use',
    middleware: [auth({ scope: 'infer', directory: deps.directory, now: deps.now })],
    security: BEARER_SECURITY,
    responses: {
      200: { description: 'The model list', content: { 'application/json': { schema: ModelListSchema } } },
      401: ERROR_RESPONSES[401],
      403: ERROR_RESPONSES[403],
    },
  });
  app.openapi(route, (c) => {
    const allowed = c.get('auth').plan.allowedModels;
    const { models } = c.get('config').routes;
    const ids = Object.keys(models).filter((id) => !allowed || allowed.includes(id));
    // What the route declares (tools, schemas, logprobs, vision, n) and what kind of model it is.
    const capabilities = (id: string) => {
      const route = models[id]!;
      const embeddings = route.embeddings;
      return embeddings
        ? { ...route.capabilities, chat: false, embeddings: true, dimensions: embeddings.dimensions, shortenable_dimensions: embeddings.shortenable }
        : { ...route.capabilities, chat: true, embeddings: false };
    };
    const body: ModelList = {
      object: 'list',
      data: ids.sort().map((id) => ({ id, object: 'model', created: MODELS_CREATED, owned_by: 'gateway', capabilities: capabilities(id) })),
    };
    return c.json(body, 200);
  });
  return app;
}
