/**
 * createApp(deps): the edge's routes, middleware order and error handling. Dependencies come in
 * through `deps` so tests can pass real local services or fakes through the same door.
 */
import { Hono } from 'hono';
import { getConfig, type AppEnv, type Config } from './env';
import { requestId } from './middleware/request-id';
import { securityHeaders } from './middleware/security-headers';
import { notFound, onError } from './on-error';
import { healthRoutes } from './routes/health';
import { inferRoutes } from './routes/infer';
import { storeFor, type Store } from './services/store';

export interface AppDeps {
  /** The store for a config; defaults to the memoised Upstash client. */
  readonly store: (config: Config) => Store;
  /** Clock in ms; injectable for tests. */
  readonly now: () => number;
}

export function createApp(overrides: Partial<AppDeps> = {}) {
  const deps: AppDeps = { store: storeFor, now: Date.now, ...overrides };
  const app = new Hono<AppEnv>();

  app.use(requestId(), securityHeaders());
  app.route('/', healthRoutes(deps));

  app.use('/v1/*', async function loadConfig(c, next) {
    c.set('config', getConfig(c.env));
    await next();
  });
  app.route('/v1', inferRoutes(deps));

  app.notFound(notFound());
  app.onError(onError());
  return app;
}
