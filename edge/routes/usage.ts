/**
 * Reading the usage ledger. `GET /v1/usage?from=&to=&group_by=day|model|key`: a tenant's own usage
 * (an `admin` key; its keys only), or any tenant's with the operator credential and `tenant=`.
 * `GET /v1/admin/usage/export?from=&to=[&tenant=]`: the raw records (operator credential), NDJSON,
 * each record_id once — what billing imports. Bounds are `YYYY-MM-DD` (whole UTC days) or ISO
 * timestamps; the aggregates are per UTC day, so `/v1/usage` counts the whole days a range touches.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { TENANT_ID_PATTERN } from '../../shared/contracts/tenancy';
import { parseUsageBound, USAGE_GROUPS, UsageReportSchema } from '../../shared/contracts/usage';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { auth, isOperatorToken, operatorAuth, presentedKey } from '../middleware/auth';
import { storeCall } from '../services/store';
import { exportRecords, MAX_RANGE_DAYS, readAggregates } from '../services/usage/read';
import { BEARER_SECURITY, ERROR_RESPONSES, type RouteDeps } from './common';
import { validationHook } from './validation';

const bound = (end: boolean) =>
  z
    .string()
    .refine((v) => parseUsageBound(v, end) !== undefined, 'YYYY-MM-DD or an ISO timestamp (UTC)')
    .transform((v) => parseUsageBound(v, end) as number);

const RangeSchema = z.object({
  from: bound(false).optional().describe('Start: YYYY-MM-DD or ISO timestamp, UTC (default: the first of this month)'),
  to: bound(true).optional().describe('End, inclusive: YYYY-MM-DD (the whole day) or ISO timestamp (default: now)'),
  tenant: z.string().regex(TENANT_ID_PATTERN).optional().describe('Operator credential only: the tenant to read'),
});

/** The range of a query, checked: `from` ≤ `to`, at most {@link MAX_RANGE_DAYS}. */
function rangeOf(query: { from?: number | undefined; to?: number | undefined }, now: number): { from: number; to: number } {
  const month = new Date(now);
  const from = query.from ?? Date.UTC(month.getUTCFullYear(), month.getUTCMonth(), 1);
  const to = query.to ?? now;
  const issue = (path: string, message: string) => new ApiError('INVALID_INPUT', message, { details: { issues: [{ path, message }] } });
  if (from > to) throw issue('from', 'from is after to');
  if (to - from > MAX_RANGE_DAYS * 86_400_000) throw issue('to', `a range covers at most ${MAX_RANGE_DAYS} days`);
  return { from, to };
}

/** The operator credential (then `tenant=` names whose usage), else an `admin` key of the tenant itself. */
function tenantOrOperator(deps: RouteDeps): MiddlewareHandler<AppEnv> {
  const tenantAuth = auth({ scope: 'admin', directory: deps.directory, now: deps.now });
  const operator = operatorAuth();
  return async function tenantOrOperator(c, next) {
    const presented = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
    return isOperatorToken(presented, c.get('config')) ? operator(c, next) : tenantAuth(c, next);
  };
}

export function usageRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const report = createRoute({
    method: 'get',
    path: '/v1/usage',
    summary: "A tenant's usage by day, model or key (requests, tokens, cache hits, cost)",
    middleware: [tenantOrOperator(deps)],
    security: [...BEARER_SECURITY, { operatorAuth: [] }],
    request: { query: RangeSchema.extend({ group_by: z.enum(USAGE_GROUPS).default('day') }) },
    responses: { 200: { description: 'The usage rows', content: { 'application/json': { schema: UsageReportSchema } } }, ...ERROR_RESPONSES },
  });
  app.openapi(report, async (c) => {
    const query = c.req.valid('query');
    const tenantId = tenantOf(c, query.tenant);
    const { from, to } = rangeOf(query, deps.now());
    const config = c.get('config');
    const rows = await storeCall(readAggregates(c.get('store'), tenantId, from, to, query.group_by), config.limits.storeTimeoutMs, 'the usage ledger');
    return c.json(
      {
        tenant_id: tenantId,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        group_by: query.group_by,
        currency: config.routes.currency,
        rows,
      },
      200,
    );
  });

  const exported = createRoute({
    method: 'get',
    path: '/v1/admin/usage/export',
    summary: 'The raw usage records of a range, NDJSON, each record once (operator credential)',
    middleware: [operatorAuth()],
    security: [{ operatorAuth: [] }],
    request: { query: RangeSchema },
    responses: { 200: { description: 'One UsageRecord per line', content: { 'application/x-ndjson': { schema: z.string() } } }, ...ERROR_RESPONSES },
  });
  app.openapi(exported, async (c) => {
    const query = c.req.valid('query');
    const { from, to } = rangeOf(query, deps.now());
    const bucket = c.env.USAGE_BUCKET;
    if (!bucket) throw new ApiError('UPSTREAM_ERROR', 'the usage bucket is not bound (USAGE_BUCKET)', { status: 503, headers: { 'Retry-After': '60' } });
    const records = exportRecords(bucket, { from, to, ...(query.tenant ? { tenantId: query.tenant } : {}) });
    // The first object is read before the answer starts, so a bucket failure is still an error answer.
    const first = await records.next().catch((err: unknown) => {
      throw new ApiError('UPSTREAM_ERROR', 'the usage bucket is unavailable; retry shortly', { status: 503, headers: { 'Retry-After': '5' }, cause: err });
    });
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        if (!first.done) controller.enqueue(encoder.encode(`${JSON.stringify(first.value)}\n`));
        else controller.close();
      },
      async pull(controller) {
        if (first.done) return;
        const next = await records.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(`${JSON.stringify(next.value)}\n`));
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/x-ndjson' } }) as never;
  });

  return app;
}

/** Whose usage: the key's own tenant; with the operator credential, the `tenant` it names. */
function tenantOf(c: Context<AppEnv>, tenant: string | undefined): string {
  const own = c.get('auth')?.tenantId;
  if (own !== undefined) {
    if (tenant !== undefined && tenant !== own) throw new ApiError('FORBIDDEN', "an API key reads only its own tenant's usage");
    return own;
  }
  if (tenant === undefined)
    throw new ApiError('INVALID_INPUT', 'tenant is required with the operator credential', { details: { issues: [{ path: 'tenant', message: 'required' }] } });
  return tenant;
}
