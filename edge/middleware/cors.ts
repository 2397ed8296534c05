/**
 * CORS for browser clients, from the configured origin list (`CORS_ORIGINS`): exact origins or `*`.
 * With no list configured no CORS headers are sent, so browsers refuse cross-origin calls.
 */
import type { MiddlewareHandler } from 'hono';
import { cors as honoCors } from 'hono/cors';
import type { AppEnv } from '../env';

const ALLOW_HEADERS = ['Authorization', 'Content-Type', 'X-API-Key', 'X-Request-ID', 'Idempotency-Key', 'Cache-Control'];
const EXPOSE_HEADERS = [
  'X-Request-ID',
  'X-Backend',
  'X-Variant',
  'X-Attempts',
  'X-Cache',
  'X-Cache-Tier',
  'Server-Timing',
  'Retry-After',
  'RateLimit',
  'RateLimit-Policy',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'X-TokenLimit-Limit',
  'X-TokenLimit-Remaining',
];

// One Hono cors middleware per origin list (one per environment in practice).
const byOrigins = new Map<string, MiddlewareHandler>();

export function cors(): MiddlewareHandler<AppEnv> {
  return async function corsMiddleware(c, next) {
    const origins = c.get('config').corsOrigins;
    if (origins.length === 0) return next();
    const id = origins.join(',');
    let handler = byOrigins.get(id);
    if (!handler) {
      handler = honoCors({
        origin: origins.includes('*') ? '*' : origins,
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: ALLOW_HEADERS,
        exposeHeaders: EXPOSE_HEADERS,
        maxAge: 600,
      });
      byOrigins.set(id, handler);
    }
    return handler(c, next);
  };
}
