/**
 * `Idempotency-Key` on POST (SPEC §2): the same key and the same request within 24 h returns the
 * first response without a second backend call; the same key with a different request is 409.
 * Keys are tenant-scoped (two tenants may use the same key). The claim itself is the shared
 * primitive (services/claim.ts) with the API in-flight policy: no wait, a second request while the
 * first still runs gets 409 CONFLICT with `Retry-After: 1` (nothing is held open; the client's
 * retry after the first completes gets the replay).
 *
 * Split in two because the tenant is known only after auth: this middleware validates the header
 * and, once the response exists, stores it (2xx; a stream is recorded in full in the background) or
 * releases the key (any other status, so a failed attempt may be retried). The routes call
 * {@link claimIdempotency} right after auth and planning, before limits and cache: a replay costs
 * no request allowance and no backend call. When the store fails or exceeds the store timeout, the
 * request is answered 503 UPSTREAM_ERROR with Retry-After: it cannot be run without its key.
 */
import type { Context, MiddlewareHandler } from 'hono';
import * as z from 'zod';
import { ApiError } from '../errors';
import type { AppEnv } from '../env';
import { backgroundFor, runInBackground } from '../services/background';
import { type ClaimHolder, Claims } from '../services/claim';
import type { Store } from '../services/store';

/** How long a finished response is replayed. */
export const IDEMPOTENCY_TTL_S = 86_400;
/** How long an in-flight claim holds the key if the isolate dies before finishing it (a long stream included). */
const IN_PROGRESS_TTL_S = 300;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const REPLAYED_HEADERS = ['content-type', 'x-backend', 'x-variant', 'x-cache', 'x-cache-tier'];

const StoredResponseSchema = z.object({ status: z.number().int(), headers: z.record(z.string(), z.string()), body: z.string() });
type StoredResponse = z.infer<typeof StoredResponseSchema>;

/** The request's key and, once claimed, its holder. */
export interface IdempotencySlot {
  readonly key: string;
  readonly claims: Claims<StoredResponse>;
  holder?: ClaimHolder<StoredResponse>;
}

export interface IdempotencyVariables {
  idempotency?: IdempotencySlot;
}

export interface IdempotencyOptions {
  /** Clock in ms, injectable for tests. */
  readonly now?: () => number;
}

export function idempotency(options: IdempotencyOptions = {}): MiddlewareHandler<AppEnv> {
  const claims = new Claims<StoredResponse>({
    value: StoredResponseSchema,
    completedTtlS: IDEMPOTENCY_TTL_S,
    inProgressTtlS: IN_PROGRESS_TTL_S,
    waitMs: 0,
    now: options.now ?? Date.now,
  });
  return async function idempotencyMiddleware(c, next) {
    const key = c.req.method === 'POST' ? c.req.header('idempotency-key') : undefined;
    if (key === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new ApiError('INVALID_INPUT', 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
        details: { issues: [{ path: 'Idempotency-Key', message: 'invalid' }] },
      });
    }
    const slot: IdempotencySlot = { key, claims };
    c.set('idempotency', slot);
    await next();
    const holder = slot.holder;
    if (!holder) return;
    const res = c.res;
    if (res.status < 200 || res.status >= 300) {
      runInBackground(c, holder.release());
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
        await holder.complete({ status: copy.status, headers, body: await copy.text() });
      })(),
    );
  };
}

/**
 * Claims the request's Idempotency-Key for this tenant (one `SET NX GET` round trip, bounded by the
 * store timeout), when it has one. Returns the stored response to replay, throws 409 CONFLICT for a
 * different request or one still in progress and 503 when the store is unavailable, or returns
 * undefined when this request now owns the key and should run.
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
  const claim = await slot.claims.claim({
    store,
    key: `gw:idem:${tenantId}:${slot.key}`,
    fingerprint,
    label: 'this Idempotency-Key',
    details: { idempotency_key: slot.key },
    storeTimeoutMs: c.get('config').limits.storeTimeoutMs,
    background: backgroundFor(c),
  });
  if (claim.kind === 'claimed') {
    slot.holder = claim.holder;
    return undefined;
  }
  const record = claim.value;
  return new Response(record.body, { status: record.status, headers: { ...record.headers, 'Idempotent-Replayed': 'true' } });
}
