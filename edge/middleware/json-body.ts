/**
 * JSON request bodies: `application/json` only (415) and the configured size cap (413), checked
 * before the body is read. A route that may carry images (chat) takes bodies up to the vision cap,
 * and a body over the ordinary cap only for a model whose route declares `vision`. Parsing and schema validation happen in the OpenAPI route
 * (routes/validation.ts), with field paths in `details.issues`.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { ApiError } from '../errors';
import type { AppEnv } from '../env';
import { resolveRoute } from '../services/route-table';

/**
 * A union's failure told by the one branch the value got into (an array of parts whose third part
 * has an unknown `type`: that part's `type`, not the whole field), else by the union itself.
 */
function flatten(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): Array<{ path: PropertyKey[]; message: string }> {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union' && 'errors' in issue) {
    const entered = issue.errors.filter((branch) => branch.some((i) => i.path.length > 0));
    if (entered.length === 1 && entered[0]) return entered[0].flatMap((i) => flatten(i, path));
  }
  return [{ path, message: issue.message }];
}

/** Public shape of schema violations: at most 20, each with its field path. */
export function issuesOf(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues
    .flatMap((i) => flatten(i, []))
    .slice(0, 20)
    .map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
}

// One limiter per distinct cap: the cap is per environment, so this holds one or two entries.
const limiters = new Map<number, MiddlewareHandler>();

function tooLarge(maxBytes: number, model?: string): ApiError {
  const why = model === undefined ? '' : ` for model '${model}' (only models with vision take larger bodies)`;
  return new ApiError('INVALID_INPUT', `request body exceeds ${maxBytes} bytes${why}`, {
    status: 413,
    details: { limit_bytes: maxBytes, ...(model ? { model } : {}) },
  });
}

/** The `model` of a JSON body, when it has a string one. */
async function modelOf(c: Context<AppEnv>): Promise<string | undefined> {
  try {
    const body: unknown = await c.req.json();
    const model = typeof body === 'object' && body !== null && 'model' in body ? body.model : undefined;
    return typeof model === 'string' ? model : undefined;
  } catch {
    return undefined; // the route's validation answers malformed JSON
  }
}

function limiterFor(maxBytes: number): MiddlewareHandler {
  let limiter = limiters.get(maxBytes);
  if (!limiter) {
    limiter = bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw tooLarge(maxBytes);
      },
    });
    limiters.set(maxBytes, limiter);
  }
  return limiter;
}

/** Content type and size checks; runs before the body is read. `vision`: the route may carry images. */
export function jsonGuard(options: { vision?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async function jsonGuard(c, next) {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new ApiError('INVALID_INPUT', 'Content-Type must be application/json', { status: 415 });
    }
    const config = c.get('config');
    if (!options.vision || config.maxBodyBytesVision <= config.maxBodyBytes) return limiterFor(config.maxBodyBytes)(c, next);
    return limiterFor(config.maxBodyBytesVision)(c, async () => {
      // A declared length within the ordinary cap needs no look; else the limiter has buffered the
      // body, so its size is known and the route reads it from Hono's body cache.
      const declared = Number(c.req.header('content-length') ?? Number.NaN);
      const bytes = declared <= config.maxBodyBytes ? declared : (await c.req.arrayBuffer()).byteLength;
      if (bytes > config.maxBodyBytes) {
        const model = await modelOf(c);
        if (model === undefined || !resolveRoute(config.routes, model)?.capabilities.vision) throw tooLarge(config.maxBodyBytes, model);
      }
      await next();
    });
  };
}
