/**
 * `Idempotency-Key` on POST (SPEC §2): the same key and the same request within 24 h returns the
 * first response without a second backend call; the same key with a different request is 409.
 * Keys are tenant-scoped (two tenants may use the same key).
 *
 * Split in two because the tenant is known only after auth: this middleware validates the header
 * and, once the response exists, stores it (2xx; a stream is recorded in full in the background) or
 * releases the key (any other status, so a failed attempt may be retried). The inference pipeline
 * calls {@link claimIdempotency} right after auth and planning, before limits and cache: a replay
 * costs no request allowance and no backend call.
 *
 * While the first request is still running, a second one with the same key gets 409 CONFLICT with
 * `Retry-After: 1` ("still in progress") rather than waiting: nothing is held open, and a client
 * retry after the first completes gets the replay.
 */
import type { Context, MiddlewareHandler } from 'hono';
import * as z from 'zod';
import { ApiError } from '../errors';
import type { AppEnv } from '../env';
import { runInBackground } from '../services/background';
import type { Store } from '../services/store';

/** How long a finished response is replayed. */
export const IDEMPOTENCY_TTL_S = 86_400;
/** How long an in-flight claim holds the key if the isolate dies before finishing it. */
const PENDING_TTL_S = 300;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const REPLAYED_HEADERS = ['content-type', 'x-backend', 'x-variant', 'x-cache', 'x-cache-tier'];

const RecordSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('pending'), fingerprint: z.string() }),
  z.object({ state: z.literal('done'), fingerprint: z.string(), status: z.number().int(), headers: z.record(z.string(), z.string()), body: z.string() }),
]);

/** The request's key and, once claimed, where its record lives. */
export interface IdempotencySlot {
  readonly key: string;
  claim?: { readonly store: Store; readonly redisKey: string; readonly fingerprint: string };
}

export interface IdempotencyVariables {
  idempotency?: IdempotencySlot;
}

export function idempotency(): MiddlewareHandler<AppEnv> {
  return async function idempotencyMiddleware(c, next) {
    const key = c.req.method === 'POST' ? c.req.header('idempotency-key') : undefined;
    if (key === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new ApiError('INVALID_INPUT', 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
        details: { issues: [{ path: 'Idempotency-Key', message: 'invalid' }] },
      });
    }
    const slot: IdempotencySlot = { key };
    c.set('idempotency', slot);
    await next();
    const claim = slot.claim;
    if (!claim) return;
    const res = c.res;
    if (res.status < 200 || res.status >= 300 || res.headers.get('idempotent-replayed')) {
      runInBackground(c, claim.store.del(claim.redisKey));
      return;
    }
    const copy = res.clone();
    runInBackground(
      c,
      (async () => {
        const headers: Record<string, string> = {};
        for (const name of REPLAYED_HEADERS) {
          const value = copy.headers.get(name);
          if (value !== null) headers[name] = value;
        }
        const record = { state: 'done' as const, fingerprint: claim.fingerprint, status: copy.status, headers, body: await copy.text() };
        await claim.store.set(claim.redisKey, record, { ex: IDEMPOTENCY_TTL_S });
      })(),
    );
  };
}

/**
 * Claims the request's Idempotency-Key for this tenant (one `SET NX GET` round trip), when it has
 * one. Returns the stored response to replay, throws 409 CONFLICT for a different request or one
 * still in progress, or returns undefined when this request now owns the key and should run.
 */
export async function claimIdempotency(
  c: Context<AppEnv>,
  store: Store,
  tenantId: string,
  fingerprintOf: () => Promise<string>,
): Promise<Response | undefined> {
  const slot = c.get('idempotency');
  if (!slot) return undefined;
  // Only requests that carry a key pay for the body's fingerprint.
  const fingerprint = await fingerprintOf();
  const redisKey = `gw:idem:${tenantId}:${slot.key}`;
  const previous = await store.set(redisKey, { state: 'pending', fingerprint }, { nx: true, get: true, ex: PENDING_TTL_S });
  if (previous === null || previous === 'OK') {
    slot.claim = { store, redisKey, fingerprint };
    return undefined;
  }
  const record = RecordSchema.safeParse(previous).data;
  if (!record) throw new ApiError('CONFLICT', 'this Idempotency-Key holds an unreadable record; use a new key');
  if (record.fingerprint !== fingerprint) {
    throw new ApiError('CONFLICT', 'this Idempotency-Key was already used with a different request body', { details: { idempotency_key: slot.key } });
  }
  if (record.state === 'pending') {
    throw new ApiError('CONFLICT', 'a request with this Idempotency-Key is still in progress; retry after it completes', {
      details: { idempotency_key: slot.key, retry_after: 1 },
      headers: { 'Retry-After': '1' },
    });
  }
  return new Response(record.body, { status: record.status, headers: { ...record.headers, 'Idempotent-Replayed': 'true' } });
}
