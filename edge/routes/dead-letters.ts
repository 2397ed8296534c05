/**
 * Operator routes for the dead letters (scope `admin`): `GET /v1/admin/dlq` lists them and
 * `POST /v1/admin/dlq/redrive` `{ids: [...]} | {all: true}` puts them back on the queues they came
 * from. The operator CLI (`gw dlq list|redrive`) uses the store and this route respectively.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env';
import { auth } from '../middleware/auth';
import { listDeadLetters, redriveDeadLetters } from '../queues/dead-letters';
import { authenticatedJson, BEARER_SECURITY, ERROR_RESPONSES, jsonRequest, type RouteDeps } from './common';
import { validationHook } from './validation';

const RedriveRequestSchema = z.union([
  z.object({ ids: z.array(z.string().min(1).max(128)).min(1).max(1000) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);
const RedriveResultSchema = z.object({ redriven: z.array(z.string()), missing: z.array(z.string()) });

export function deadLetterRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const list = createRoute({
    method: 'get',
    path: '/v1/admin/dlq',
    summary: 'Dead letters (webhook forwards, jobs and deliveries that exhausted their attempts)',
    middleware: [auth({ scope: 'admin', store: deps.store, directory: deps.directory, now: deps.now })],
    security: BEARER_SECURITY,
    responses: {
      200: { description: 'The dead letters, oldest first', content: { 'application/json': { schema: z.object({ dead_letters: z.array(z.unknown()) }) } } },
      ...ERROR_RESPONSES,
    },
  });
  app.openapi(list, async (c) => c.json({ dead_letters: await listDeadLetters(deps.store(c.get('config'))) }, 200));

  const redrive = createRoute({
    method: 'post',
    path: '/v1/admin/dlq/redrive',
    summary: 'Re-enqueue dead letters on their original queues',
    middleware: authenticatedJson(deps, 'admin'),
    security: BEARER_SECURITY,
    request: jsonRequest(RedriveRequestSchema),
    responses: { 200: { description: 'What was redriven', content: { 'application/json': { schema: RedriveResultSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(redrive, async (c) => {
    const body = c.req.valid('json');
    const result = await redriveDeadLetters(c.env, deps.store(c.get('config')), 'all' in body ? 'all' : body.ids);
    return c.json(result, 200);
  });

  return app;
}
