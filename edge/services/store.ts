/**
 * The edge's store: Upstash Redis over REST (a real Upstash database in the cloud, the local bridge
 * in front of redis-server on one machine). Typed as narrowly as the edge uses it. Calls on a
 * request's path that cannot fall back are bounded with {@link storeCall}: past the store timeout,
 * or on any store failure, the client gets 503 UPSTREAM_ERROR with Retry-After, never a 500 or a hang.
 */
import { Redis } from '@upstash/redis/cloudflare';
import { ApiError } from '../errors';
import { withDeadline } from './deadline';

/** The Redis commands the edge needs. */
export type Store = Pick<Redis, 'get' | 'ping' | 'set' | 'del' | 'eval' | 'hset' | 'hget' | 'hgetall' | 'hdel' | 'evalsha' | 'getex'>;

/** What a client is told to wait before retrying when the store is unavailable (auth and the limit gate say the same). */
export const STORE_RETRY_AFTER_S = 5;

// One client per isolate and store: the client is stateless apart from its keep-alive fetches.
const clients = new Map<string, Redis>();

/** The memoised client for this config's store. */
export function storeFor(config: { readonly store: { readonly url: string; readonly token: string } }): Store {
  const id = `${config.store.url}\n${config.store.token}`;
  let client = clients.get(id);
  if (!client) {
    client = new Redis({
      url: config.store.url,
      token: config.store.token,
      enableTelemetry: false,
      retry: { retries: 1, backoff: () => 50 },
      // Results as plain JSON strings, not base64: everything the edge stores is text it wrote (JSON,
      // ids, counters), and decoding base64 in JavaScript, byte by byte, was the store client's
      // dearest work per request in a profile of the edge (a cache entry read on every miss).
      responseEncoding: false,
    });
    clients.set(id, client);
  }
  return client;
}

/** The answer to a request whose store call failed or ran out of time: 503 UPSTREAM_ERROR with Retry-After. */
export function storeUnavailable(what: string, cause: unknown): ApiError {
  return new ApiError('UPSTREAM_ERROR', `${what} is unavailable; retry after ${STORE_RETRY_AFTER_S} s`, {
    status: 503,
    details: { retry_after: STORE_RETRY_AFTER_S },
    headers: { 'Retry-After': String(STORE_RETRY_AFTER_S) },
    cause,
  });
}

/**
 * Waits for a store call at most `timeoutMs` (the configured store timeout); a failure or a timeout
 * becomes {@link storeUnavailable}. The call itself may still land later: callers that wrote
 * something undo it in the background when that matters.
 */
export async function storeCall<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  try {
    return await withDeadline(work, timeoutMs, what);
  } catch (err) {
    throw storeUnavailable(what, err);
  }
}
