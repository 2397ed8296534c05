/**
 * `POST /v1/embeddings` in OpenAI's shape, documented in OpenAPI from the shared schema; the work
 * is edge/stages/embeddings.ts (limits, per-input cache, dynamic batching).
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { EmbeddingListSchema, EmbeddingRequestSchema } from '../../shared/contracts/embeddings';
import type { AppEnv } from '../env';
import { embeddingsHandler } from '../stages/embeddings';
import { asRouteResponse, authenticatedJson, BEARER_SECURITY, ERROR_RESPONSES, jsonRequest, type RouteDeps } from './common';
import { validationHook } from './validation';

export function embeddingRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const embed = embeddingsHandler(deps);
  const route = createRoute({
    method: 'post',
    path: '/v1/embeddings',
    summary: 'OpenAI-compatible embeddings (float or base64), dynamically batched and cached per input',
    middleware: authenticatedJson(deps, 'infer'),
    security: BEARER_SECURITY,
    request: jsonRequest(EmbeddingRequestSchema),
    responses: {
      200: { description: 'One embedding per input, in order', content: { 'application/json': { schema: EmbeddingListSchema } } },
      ...ERROR_RESPONSES,
      413: { ...ERROR_RESPONSES[413], description: 'INVALID_INPUT: body too large, or the inputs exceed the tokens allowed per request' },
    },
  });
  app.openapi(route, (c) => asRouteResponse(embed(c, c.req.valid('json'))));
  return app;
}
