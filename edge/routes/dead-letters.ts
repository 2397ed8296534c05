/**
 * The dead-letter routes. A tenant's admin key (scope `admin`) sees and redrives only its own
 * tenant's dead letters: `GET /v1/admin/dlq`, `POST /v1/admin/dlq/redrive` `{ids: [...]} | {all: true}`.
 * The operator credential (`OPERATOR_TOKEN`) sees and redrives every letter, including the webhook
 * letters that belong to no tenant: `GET /v1/operator/dlq[?tenant=ID]`, `POST /v1/operator/dlq/redrive`;
 * the operator CLI (`gw dlq list|redrive`) calls these. Redrive is all or nothing: an id the caller
 * cannot see (unknown, or another tenant's: indistinguishable) is a 404 and nothing is redriven.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { TENANT_ID_PATTERN } from '../../shared/contracts/tenancy';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { auth, operatorAuth } from '../middleware/auth';
import { jsonGuard } from '../middleware/json-body';
import { listDeadLetters, redriveDeadLetters, type DeadLetterScope, type DeadLetterStore } from '../queues/dead-letters';
import { withDeadline } from '../services/deadline';
import type { Store } from '../services/store';
import { authenticatedJson, BEARER_SECURITY, ERROR_RESPONSES, jsonRequest, type RouteDeps } from './common';
import { validationHook } from './validation';

const RedriveRequestSchema = z.union([
  z.object({ ids: z.array(z.string().min(1).max(128)).min(1).max(1000) }).strict(),
  z.object({ all: z.literal(true) }).strict(),
]);
const RedriveResultSchema = z.object({ redriven: z.array(z.string()) });

const DeadLetterSchema = z
  .object({
    id: z.string(),
    tenantId: z.string().optional().describe('The tenant the letter belongs to (jobs, deliveries); absent for webhook events: operator-only'),
    kind: z.literal('dead-letter'),
    original: z.looseObject({ kind: z.enum(['webhook', 'job', 'delivery', 'notice']) }).describe('The message as it was queued'),
    reason: z.string(),
    attempts: z.number().int(),
    failedAt: z.number().int(),
  })
  .openapi('DeadLetter');
const DeadLettersSchema = z.object({ dead_letters: z.array(DeadLetterSchema) });

const OPERATOR_SECURITY = [{ operatorAuth: [] }];
const STORE_RETRY_AFTER_S = 5;

/** Each store call of a dead-letter route bounded by the configured store timeout. */
function boundedStore(store: Store, ms: number): DeadLetterStore {
  return {
    hgetall: <T extends Record<string, unknown>>(key: string) => withDeadline(store.hgetall<T>(key), ms, 'the store'),
    hdel: (key: string, ...fields: string[]) => withDeadline(store.hdel(key, ...fields), ms, 'the store'),
  };
}

/** Runs a dead-letter operation; a store or queue failure is a 503 with Retry-After, never a 500. */
async function unavailableAs503<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw new ApiError('UPSTREAM_ERROR', 'the dead letters are unavailable; retry shortly', {
      status: 503,
      headers: { 'Retry-After': String(STORE_RETRY_AFTER_S) },
      cause: err,
    });
  }
}

export function deadLetterRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const storeOf = (c: Context<AppEnv>) => boundedStore(c.get('store'), c.get('config').limits.storeTimeoutMs);
  const list = (c: Context<AppEnv>, scope: DeadLetterScope) => unavailableAs503(listDeadLetters(storeOf(c), scope));
  const redrive = async (c: Context<AppEnv>, scope: DeadLetterScope, body: z.infer<typeof RedriveRequestSchema>) => {
    const result = await unavailableAs503(redriveDeadLetters(c.env, storeOf(c), scope, 'all' in body ? 'all' : body.ids));
    if (result.missing.length > 0) {
      const shown = result.missing.slice(0, 5).join(', ');
      throw new ApiError('NOT_FOUND', `no dead letter ${shown}${result.missing.length > 5 ? ', …' : ''}; nothing was redriven`, {
        details: { missing: result.missing },
      });
    }
    return { redriven: result.redriven };
  };

  app.openAPIRegistry.registerComponent('securitySchemes', 'operatorAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'The operator credential (OPERATOR_TOKEN, gw_op_…); no API key is ever accepted here.',
  });

  const tenantList = createRoute({
    method: 'get',
    path: '/v1/admin/dlq',
    summary: "This tenant's dead letters (jobs and deliveries that exhausted their attempts)",
    middleware: [auth({ scope: 'admin', directory: deps.directory, now: deps.now })],
    security: BEARER_SECURITY,
    responses: { 200: { description: 'The dead letters, oldest first', content: { 'application/json': { schema: DeadLettersSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(tenantList, async (c) => c.json({ dead_letters: await list(c, { kind: 'tenant', tenantId: c.get('auth').tenantId }) }, 200));

  const tenantRedrive = createRoute({
    method: 'post',
    path: '/v1/admin/dlq/redrive',
    summary: "Re-enqueue this tenant's dead letters on their original queues",
    middleware: authenticatedJson(deps, 'admin'),
    security: BEARER_SECURITY,
    request: jsonRequest(RedriveRequestSchema),
    responses: { 200: { description: 'What was redriven', content: { 'application/json': { schema: RedriveResultSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(tenantRedrive, async (c) => c.json(await redrive(c, { kind: 'tenant', tenantId: c.get('auth').tenantId }, c.req.valid('json')), 200));

  const operatorList = createRoute({
    method: 'get',
    path: '/v1/operator/dlq',
    summary: "Every tenant's dead letters, and the webhook events' (operator credential)",
    middleware: [operatorAuth()],
    security: OPERATOR_SECURITY,
    request: { query: z.object({ tenant: z.string().regex(TENANT_ID_PATTERN).optional().describe("Only this tenant's letters") }) },
    responses: { 200: { description: 'The dead letters, oldest first', content: { 'application/json': { schema: DeadLettersSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(operatorList, async (c) => {
    const { tenant } = c.req.valid('query');
    return c.json({ dead_letters: await list(c, { kind: 'operator', ...(tenant ? { tenantId: tenant } : {}) }) }, 200);
  });

  const operatorRedrive = createRoute({
    method: 'post',
    path: '/v1/operator/dlq/redrive',
    summary: 'Re-enqueue any dead letters on their original queues (operator credential)',
    middleware: [operatorAuth(), jsonGuard()],
    security: OPERATOR_SECURITY,
    request: jsonRequest(RedriveRequestSchema),
    responses: { 200: { description: 'What was redriven', content: { 'application/json': { schema: RedriveResultSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(operatorRedrive, async (c) => c.json(await redrive(c, { kind: 'operator' }, c.req.valid('json')), 200));

  return app;
}
