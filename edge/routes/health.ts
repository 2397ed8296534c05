/**
 * Liveness (`/health`, no dependencies) and readiness (`/ready`: the store answers PING and the
 * route table parses; 503 with the failing checks otherwise).
 */
import { Hono } from 'hono';
import { getConfig, type AppEnv } from '../env';
import type { Store } from '../services/store';
import type { Config } from '../env';
import { describeError, log } from '../services/log';

export interface HealthDeps {
  readonly store: (config: Config) => Store;
}

type Check = { ok: true } | { ok: false; reason: string };

export function healthRoutes(deps: HealthDeps) {
  const app = new Hono<AppEnv>();

  app.get('/health', (c) => c.json({ status: 'ok' }));

  app.get('/ready', async (c) => {
    let config: Config;
    try {
      config = getConfig(c.env);
    } catch (err) {
      log('error', 'readiness: config invalid', { request_id: c.get('requestId'), ...describeError(err) });
      return c.json({ status: 'not_ready', checks: { config: { ok: false, reason: 'configuration invalid' } } }, 503);
    }
    const store: Check = await deps
      .store(config)
      .ping()
      .then((): Check => ({ ok: true }))
      .catch((err: unknown): Check => {
        log('warn', 'readiness: store unreachable', { request_id: c.get('requestId'), ...describeError(err) });
        return { ok: false, reason: 'store unreachable' };
      });
    const routes: Check = { ok: true };
    const ready = store.ok && routes.ok;
    return c.json({ status: ready ? 'ready' : 'not_ready', checks: { config: { ok: true }, store, routes }, models: Object.keys(config.routes.models) }, ready ? 200 : 503);
  });

  return app;
}
