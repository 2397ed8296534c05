/**
 * JSON request bodies: `application/json` only (415), the configured size cap (413), malformed JSON
 * (400) and schema violations (400 with each field path in `details.issues`). Validated data lands
 * in `c.req.valid('json')`.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { validator } from 'hono/validator';
import type { z } from 'zod';
import { ApiError } from '../errors';
import type { Config } from '../env';

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
export function jsonGuard(): MiddlewareHandler<{ Variables: { config: Config } }> {
  return async function jsonGuard(c, next) {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError('INVALID_INPUT', 'Content-Type must be application/json', { status: 415 });
    }
    return limiterFor(c.get('config').maxBodyBytes)(c, next);
  };
}

/** Parses the body and validates it with `schema`. */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return validator('json', (value) => {
    const result = schema.safeParse(value);
    if (!result.success) {
      throw new ApiError('INVALID_INPUT', 'request body does not match the schema', { details: { issues: issuesOf(result.error) } });
    }
    return result.data as z.output<S>;
  });
}
