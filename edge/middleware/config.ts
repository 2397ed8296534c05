/**
 * Resolves the config (parsed once per isolate, env.ts) and its store once per request into typed
 * variables; routes and middleware after it read `c.get('config')` and `c.get('store')` and never
 * resolve either themselves.
 */
import type { MiddlewareHandler } from 'hono';
import { type AppEnv, type Config, getConfig } from '../env';
import type { IsolateServices } from '../services/isolate';
import type { Store } from '../services/store';

export interface ConfigVariables {
  config: Config;
  store: Store;
}

export function resolveConfig(deps: Pick<IsolateServices, 'store'>): MiddlewareHandler<AppEnv> {
  return async function resolveConfig(c, next) {
    const config = getConfig(c.env);
    c.set('config', config);
    c.set('store', deps.store(config));
    await next();
  };
}
