/**
 * Request id: taken from `X-Request-ID` when it is a sane token (1–128 of `A-Z a-z 0-9 _ - . : =`),
 * else a new UUID. Set on the context for logs and errors, echoed on every response.
 */
import type { MiddlewareHandler } from 'hono';

export interface RequestIdVariables {
  requestId: string;
}

export const REQUEST_ID_HEADER = 'X-Request-ID';
const SANE_REQUEST_ID = /^[\w.:=-]{1,128}$/;

/** Accepts a caller's id only when it is a short, header-safe token. */
export function isSaneRequestId(value: string | undefined): value is string {
  return value !== undefined && SANE_REQUEST_ID.test(value);
}

export function requestId(): MiddlewareHandler<{ Variables: RequestIdVariables }> {
  return async function requestIdMiddleware(c, next) {
    const incoming = c.req.header(REQUEST_ID_HEADER);
    const id = isSaneRequestId(incoming) ? incoming : crypto.randomUUID();
    c.set('requestId', id);
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, id);
  };
}
