/**
 * Liveness (`/health`, no dependencies) and readiness (`/ready`: the config parses, the store
 * answers PING within a bound and the route table has backends; 503 with each failing check).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { getConfig, type AppEnv, type Config } from '../env';
import { describeError, log } from '../services/log';
import { logIds } from '../middleware/trace';
import type { RouteDeps } from './common';
import { DeadlineExceededError, withDeadline } from '../services/deadline';

/** Longest the readiness probe waits for the store. */
export const READY_STORE_TIMEOUT_MS = 2_000;

const Check = z.object({ ok: z.boolean(), reason: z.string().optional() });
const ReadySchema = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.object({ config: Check, store: Check.optional(), routes: Check.optional() }),
    models: z.array(z.string()).optional(),
  })
  .meta({ id: 'Readiness' });

type CheckResult = z.infer<typeof Check>;

export function healthRoutes(deps: Pick<RouteDeps, 'store'>) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      summary: 'Liveness; touches no dependency',
      responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
    }),
    (c) => c.json({ status: 'ok' as const }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/ready',
      summary: 'Readiness: store and route table',
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: ReadySchema } } },
        503: { description: 'Not ready, with the failing checks', content: { 'application/json': { schema: ReadySchema } } },
      },
    }),
    async (c) => {
      let config: Config;
      try {
        config = getConfig(c.env);
      } catch (err) {
        log('error', 'readiness: config invalid', { ...logIds(c), ...describeError(err) });
        return c.json({ status: 'not_ready' as const, checks: { config: { ok: false, reason: 'configuration invalid' } } }, 503);
      }
      const store: CheckResult = await withDeadline(deps.store(config).ping(), READY_STORE_TIMEOUT_MS, 'the store')
        .then((): CheckResult => ({ ok: true }))
        .catch((err: unknown): CheckResult => {
          log('warn', 'readiness: store unreachable', { ...logIds(c), ...describeError(err) });
          return { ok: false, reason: err instanceof DeadlineExceededError ? err.message : 'store unreachable' };
        });
      const models = Object.keys(config.routes.models);
      const routes: CheckResult = models.every((m) => (config.routes.models[m]?.backends.length ?? 0) > 0)
        ? { ok: true }
        : { ok: false, reason: 'a model has no backend' };
      const ready = store.ok && routes.ok;
      return c.json(
        { status: ready ? ('ready' as const) : ('not_ready' as const), checks: { config: { ok: true }, store, routes }, models },
        ready ? 200 : 503,
      );
    },
  );

  return app;
}
