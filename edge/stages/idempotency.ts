/**
 * `Idempotency-Key` on POST (SPEC §2), as one stage that owns both halves: the same key and the same
 * request within 24 h returns the first response without a second backend call; the same key with
 * a different request is 409. Keys are tenant-scoped (two tenants may use the same key), so the
 * stage runs after auth: on the inference chain right after `prepare` (a replay costs no request
 * allowance and no backend call), on job submission before the job is stored.
 *
 * The claim is the shared primitive (services/claim.ts) with the API in-flight policy: no wait; a
 * second request while the first still runs gets 409 CONFLICT with `Retry-After: 1` (nothing is held
 * open; the client's retry after the first completes gets the replay). After `next()` the stage
 * stores a 2xx answer (a stream is recorded in full in the background) or releases the key (any
 * other status, so a failed attempt may be retried). When the store fails or exceeds the store
 * timeout, the request is answered 503 UPSTREAM_ERROR with Retry-After: it cannot run without its key.
 */
import type { Context, MiddlewareHandler } from 'hono';
import * as z from 'zod';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { backgroundFor } from '../services/background';
import { Claims } from '../services/claim';

/** How long a finished response is replayed. */
const IDEMPOTENCY_TTL_S = 86_400;
/** How long an in-flight claim holds the key if the isolate dies before finishing it (a long stream included). */
const IN_PROGRESS_TTL_S = 300;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const REPLAYED_HEADERS = ['content-type', 'x-backend', 'x-variant', 'x-cache', 'x-cache-tier'];

const StoredResponseSchema = z.object({
  status: z.number().int(),
  headers: z.record(z.string(), z.string()),
  body: z.string(),
  /** The usage record of the first answer: a replay's record points at it (and is never billed). */
  recordId: z.string().optional(),
});

export interface IdempotencyOptions {
  /** Clock in ms, injectable for tests. */
  readonly now: () => number;
  /** The digest of what makes two requests "the same" (path and normalised body); computed only when a key is sent. */
  readonly fingerprint: (c: Context<AppEnv>) => Promise<string>;
  /** Called when the stage answers with a stored response. */
  readonly onReplay?: (c: Context<AppEnv>) => void;
}

type Fingerprint = () => Promise<string>;

/** The request's Idempotency-Key, validated; undefined when it has none. */
function idempotencyKeyOf(c: Context<AppEnv>): string | undefined {
  const key = c.req.method === 'POST' ? c.req.header('idempotency-key') : undefined;
  if (key !== undefined && !KEY_PATTERN.test(key)) {
    throw new ApiError('INVALID_INPUT', 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
      details: { issues: [{ path: 'Idempotency-Key', message: 'invalid' }] },
    });
  }
  return key;
}

/** The API's claims: no wait for an in-flight first request. */
function apiClaims(now: () => number) {
  return new Claims({ value: StoredResponseSchema, completedTtlS: IDEMPOTENCY_TTL_S, inProgressTtlS: IN_PROGRESS_TTL_S, waitMs: 0, now });
}

/**
 * Runs `run` (which answers by setting `c.res`) at most once per tenant and Idempotency-Key, or
 * replays the stored answer; without a key, just runs it. The one implementation behind the stage
 * and the job submission.
 */
async function runOnce(
  c: Context<AppEnv>,
  claims: ReturnType<typeof apiClaims>,
  fingerprint: Fingerprint,
  onReplay: (() => void) | undefined,
  run: () => Promise<void>,
): Promise<Response | undefined> {
  const key = idempotencyKeyOf(c);
  if (key === undefined) {
    await run();
    return undefined;
  }
  const later = backgroundFor(c);
  const claim = await claims.claim({
    store: c.get('store'),
    key: `gw:idem:${c.get('auth').tenantId}:${key}`,
    fingerprint: await fingerprint(),
    label: 'this Idempotency-Key',
    details: { idempotency_key: key },
    storeTimeoutMs: c.get('config').limits.storeTimeoutMs,
    background: later,
  });
  if (claim.kind !== 'claimed') {
    onReplay?.();
    const record = claim.value;
    const usage = c.get('usage');
    if (usage) usage.replayOf = record.recordId ?? '';
    return new Response(record.body, { status: record.status, headers: { ...record.headers, 'Idempotent-Replayed': 'true' } });
  }
  const { holder } = claim;
  try {
    await run();
  } catch (err) {
    later(holder.release());
    throw err;
  }
  const res = c.res;
  if (res.status < 200 || res.status >= 300) {
    later(holder.release());
    return undefined;
  }
  const copy = res.clone();
  const recordId = c.get('usage')?.recordId;
  later(
    (async () => {
      const headers: Record<string, string> = {};
      for (const name of REPLAYED_HEADERS) {
        const value = copy.headers.get(name);
        if (value !== null) headers[name] = value;
      }
      await holder.complete({ status: copy.status, headers, body: await copy.text(), ...(recordId ? { recordId } : {}) });
    })(),
  );
  return undefined;
}

/** The stage: `next()` runs once per key. */
export function idempotency(options: IdempotencyOptions): MiddlewareHandler<AppEnv> {
  const claims = apiClaims(options.now);
  return async function idempotency(c, next) {
    return runOnce(c, claims, () => options.fingerprint(c), options.onReplay && (() => options.onReplay?.(c)), next);
  };
}

/** The same for a handler that is not a middleware chain (job submission): `answer` runs once per key. */
export function idempotentHandler(now: () => number): (c: Context<AppEnv>, fingerprint: Fingerprint, answer: () => Promise<Response>) => Promise<Response> {
  const claims = apiClaims(now);
  return async (c, fingerprint, answer) => {
    const replay = await runOnce(c, claims, fingerprint, undefined, async () => {
      c.res = await answer();
    });
    return replay ?? c.res;
  };
}
