/**
 * The OpenAI Responses API: `POST /v1/responses` (sync or `stream: true`), `GET` and `DELETE
 * /v1/responses/{id}` for stored answers. A request continues the stored conversation its
 * `previous_response_id` names (the tenant's own only: another tenant's id is 404), is translated to
 * the chat path (services/responses/conversation.ts) and runs through the same inference chain as
 * chat completions: limits, cache, coalescing, idempotency, routing.
 */
import { createRoute, type Hook, OpenAPIHono, z } from '@hono/zod-openapi';
import { ResponseCreateRequestSchema, ResponseDeletedSchema, ResponseObjectSchema } from '../../shared/contracts/responses';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { auth } from '../middleware/auth';
import { issuesOf } from '../middleware/json-body';
import { fromResponses, inputIssues } from '../services/responses/conversation';
import { nativeResponse } from '../services/responses/native';
import { resolveRoute } from '../services/route-table';
import { continuedItems, responsesSettings, tenantResponses } from '../services/responses/store';
import { inferenceChain } from '../stages/chain';
import { asRouteResponse, authenticatedJson, BEARER_SECURITY, ERROR_RESPONSES, jsonRequest, type RouteDeps } from './common';
import { validationHook } from './validation';

/** Schema violations with field paths; a wrong `input` is described item by item and field by field. */
const responsesHook: Hook<unknown, AppEnv, string, unknown> = (result, c) => {
  if (result.success || result.target !== 'json') return validationHook(result, c);
  // The validator hands the hook the raw body too, which the hook's declared type leaves out.
  const raw = (result as { data?: unknown }).data;
  const input = raw !== null && typeof raw === 'object' ? (raw as { input?: unknown }).input : undefined;
  const others = issuesOf(result.error).filter((i) => i.path !== 'input' && !i.path.startsWith('input.'));
  const issues = [...others, ...inputIssues(input)].slice(0, 20);
  if (issues.length === 0) return validationHook(result, c);
  throw new ApiError('INVALID_INPUT', `request does not match the schema: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`.slice(0, 1_000), {
    details: { issues },
  });
};

const ResponseIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(128)
    .openapi({ param: { name: 'id', in: 'path' }, example: 'resp_0123456789abcdef0123456789abcdef' }),
});

const notFound = (id: string) => new ApiError('NOT_FOUND', `no stored response '${id}'`, { details: { id } });

export function responsesRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: responsesHook });
  const inference = inferenceChain(deps);
  const readAuth = [auth({ scope: 'infer', directory: deps.directory, now: deps.now })];

  const create = createRoute({
    method: 'post',
    path: '/v1/responses',
    summary:
      'OpenAI-compatible Responses API (sync or `stream: true`): function tools, `function_call` / `function_call_output` items and `text.format` json_schema where the model supports them; answers are stored unless `store: false`',
    middleware: authenticatedJson(deps, 'infer'),
    security: BEARER_SECURITY,
    request: jsonRequest(ResponseCreateRequestSchema),
    responses: {
      200: {
        description:
          'A response object (`message` and `function_call` output items), or the Responses event stream (`response.created` … `response.function_call_arguments.delta` / `.done` … `response.completed`) when streaming',
        content: { 'application/json': { schema: ResponseObjectSchema }, 'text/event-stream': { schema: z.string() } },
      },
      ...ERROR_RESPONSES,
    },
  });
  app.openapi(create, async (c) => {
    const body = c.req.valid('json');
    const { ttlS } = responsesSettings(c.env);
    const previous = body.previous_response_id ?? undefined;
    const stored = previous !== undefined ? await tenantResponses(c).load(previous) : undefined;
    if (previous !== undefined && !stored) {
      throw new ApiError('NOT_FOUND', `previous_response_id '${previous}' names no stored response`, {
        details: { issues: [{ path: 'previous_response_id', message: 'not found' }] },
      });
    }
    const prior = stored ? continuedItems(stored) : undefined;
    const route = resolveRoute(c.get('config').routes, body.model);
    if (route?.responses === 'native') return asRouteResponse(nativeResponse(c, deps, route, body, prior, ttlS > 0));
    const req = fromResponses(body, { prior, storing: ttlS > 0, maxTokens: c.get('auth').plan.maxTokens });
    return asRouteResponse(inference(c, req));
  });

  const retrieve = createRoute({
    method: 'get',
    path: '/v1/responses/{id}',
    summary: 'A stored response of this tenant',
    middleware: readAuth,
    security: BEARER_SECURITY,
    request: { params: ResponseIdParam, query: z.object({ stream: z.enum(['false']).optional().describe('Replaying a stored stream is not supported') }) },
    responses: { 200: { description: 'The stored response', content: { 'application/json': { schema: ResponseObjectSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(retrieve, async (c) => {
    const { id } = c.req.valid('param');
    const stored = await tenantResponses(c).load(id);
    if (!stored) throw notFound(id);
    // As stored: a natively served model's response may carry output items beyond the documented ones.
    return asRouteResponse(Promise.resolve(c.json(stored.response, 200)));
  });

  const remove = createRoute({
    method: 'delete',
    path: '/v1/responses/{id}',
    summary: 'Delete a stored response of this tenant',
    middleware: readAuth,
    security: BEARER_SECURITY,
    request: { params: ResponseIdParam },
    responses: { 200: { description: 'Deleted', content: { 'application/json': { schema: ResponseDeletedSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(remove, async (c) => {
    const { id } = c.req.valid('param');
    if (!(await tenantResponses(c).remove(id))) throw notFound(id);
    return c.json({ id, object: 'response' as const, deleted: true as const }, 200);
  });

  return app;
}
