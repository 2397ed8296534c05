/**
 * JSON request bodies: `application/json` only (415) and the configured size cap (413), checked
 * before the body is read. Parsing and schema validation happen in the OpenAPI route
 * (routes/validation.ts), with field paths in `details.issues`.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { ApiError } from '../errors';
import type { AppEnv } from '../env';

/** Public shape of schema violations: at most 20, each with its field path. */
export function issuesOf(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

// One limiter per distinct cap: the cap is per environment, so this holds one or two entries.
const limiters = new Map<number, MiddlewareHandler>();

function limiterFor(maxBytes: number): MiddlewareHandler {
  let limiter = limiters.get(maxBytes);
  if (!limiter) {
    limiter = bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw new ApiError('INVALID_INPUT', `request body exceeds ${maxBytes} bytes`, { status: 413, details: { limit_bytes: maxBytes } });
      },
    });
    limiters.set(maxBytes, limiter);
  }
  return limiter;
}

/** Content type and size checks; runs before the body is read. */
export function jsonGuard(): MiddlewareHandler<AppEnv> {
  return async function jsonGuard(c, next) {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError('INVALID_INPUT', 'Content-Type must be application/json', { status: 415 });
    }
    return limiterFor(c.get('config').maxBodyBytes)(c, next);
  };
}
