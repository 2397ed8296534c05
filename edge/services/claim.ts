/**
 * One claim primitive for everything that must happen once per key: an `Idempotency-Key` request,
 * a job submission, a webhook delivery. Modelled on Powertools' idempotency utility: a key holds
 * an in-progress record while its first holder works, then a completed record with the answer to
 * replay; both carry the payload's fingerprint, so the same key with another payload is a conflict.
 *
 *   claim(key, fingerprint) → claimed (run, then complete(value) or release())
 *                           → replay (the completed value)
 *                           → 409 CONFLICT (another payload; or still in progress after the wait)
 *                           → 503 UPSTREAM_ERROR + Retry-After (the store failed or timed out)
 *
 * The in-flight policy is set once per caller ({@link ClaimPolicy.waitMs}): wait up to N ms for the
 * first holder to finish (webhook senders retry blindly, so a short wait answers them with the first
 * result), or answer at once (API clients get 409 with Retry-After and retry themselves).
 *
 * Records live in Redis as JSON: `{status: "in_progress", token, fingerprint}` with a short TTL
 * (a holder that dies frees the key), `{status: "completed", token, fingerprint, value}` with the
 * replay TTL. The token makes complete and release act only on this holder's own claim.
 */
import * as z from 'zod';
import { ApiError } from '../errors';
import { type Store, storeCall } from './store';

/** How one caller claims: record lifetimes, the in-flight policy, the clock. */
export interface ClaimPolicy<T> {
  /** The completed value's shape; a record that does not match is refused as unreadable. */
  readonly value: z.ZodType<T>;
  /** How long a completed record is replayed, s. */
  readonly completedTtlS: number;
  /** How long an in-progress record holds the key if its holder never finishes, s. */
  readonly inProgressTtlS: number;
  /** How long a second claimer waits for the first holder to finish before 409, ms; 0 answers at once. */
  readonly waitMs: number;
  /** How often a waiting claimer looks again, ms. Default 100. */
  readonly pollMs?: number;
  /** `Retry-After` on the in-progress 409, s. Default 1. */
  readonly retryAfterS?: number;
  /** Clock in ms; bounds the wait. */
  readonly now: () => number;
}

/** One claim attempt. */
export interface ClaimRequest {
  readonly store: Store;
  /** The record's Redis key, already scoped (tenant, source). */
  readonly key: string;
  /** A digest of the payload: the same key with another fingerprint is a conflict. */
  readonly fingerprint: string;
  /** How the key is named in error messages, e.g. `this Idempotency-Key`, `delivery id 'evt_1'`. */
  readonly label: string;
  /** Added to the error details, e.g. `{ idempotency_key: 'k' }`. */
  readonly details?: Record<string, unknown>;
  /** Bound of each store call (the configured store timeout), ms. */
  readonly storeTimeoutMs: number;
  /** Where work after the answer goes (`waitUntil`): undoing a claim whose outcome is unknown. */
  readonly background: (work: Promise<unknown>) => void;
}

/** A claim this caller now holds: it must end it with {@link complete} or {@link release}. */
export interface ClaimHolder<T> {
  /** Stores the answer to replay (unless another holder took the key meanwhile); false when it did. Rejects with 503 when the store fails. */
  complete(value: T): Promise<boolean>;
  /** Frees the key so a retry can run (only this holder's claim). Rejects with 503 when the store fails. */
  release(): Promise<void>;
}

/** The outcome of {@link Claims.claim} that is not an error. */
export type Claim<T> = { readonly kind: 'claimed'; readonly holder: ClaimHolder<T> } | { readonly kind: 'replay'; readonly value: T };

const InProgressSchema = z.object({ status: z.literal('in_progress'), token: z.string(), fingerprint: z.string() });
const completedSchema = <T>(value: z.ZodType<T>) => z.object({ status: z.literal('completed'), token: z.string(), fingerprint: z.string(), value });

/** Writes the completed record when the key is free or still this holder's (never over another holder's claim). */
const COMPLETE = `local v = redis.call('GET', KEYS[1])
if v then
  local ok, r = pcall(cjson.decode, v)
  if not (ok and type(r) == 'table' and r.token == ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1`;

/** Deletes the record only while it is this holder's. */
const RELEASE = `local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, r = pcall(cjson.decode, v)
if ok and type(r) == 'table' and r.token == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const WHAT = 'the idempotency store';

/** Claims keys under one {@link ClaimPolicy}. */
export class Claims<T> {
  readonly #policy: ClaimPolicy<T>;
  readonly #completed: z.ZodType<{ status: 'completed'; token: string; fingerprint: string; value: T }>;

  constructor(policy: ClaimPolicy<T>) {
    for (const field of ['completedTtlS', 'inProgressTtlS'] as const) {
      if (!(Number.isInteger(policy[field]) && policy[field] > 0)) throw new RangeError(`Claims: ${field} must be a positive integer`);
    }
    if (!(Number.isFinite(policy.waitMs) && policy.waitMs >= 0)) throw new RangeError('Claims: waitMs must be a non-negative number');
    this.#policy = policy;
    this.#completed = completedSchema(policy.value) as z.ZodType<{ status: 'completed'; token: string; fingerprint: string; value: T }>;
  }

  /**
   * Claims `request.key` (one `SET NX GET` round trip when it is free). Returns the holder, or the
   * completed value to replay; throws ApiError 409 CONFLICT for another fingerprint, an unreadable
   * record, or a holder still in progress after the wait, and 503 UPSTREAM_ERROR when the store
   * fails or exceeds its timeout.
   */
  async claim(request: ClaimRequest): Promise<Claim<T>> {
    const deadline = this.#policy.now() + this.#policy.waitMs;
    for (;;) {
      const token = crypto.randomUUID();
      const record = { status: 'in_progress' as const, token, fingerprint: request.fingerprint };
      let previous: unknown;
      try {
        previous = await storeCall(
          request.store.set(request.key, record, { nx: true, get: true, ex: this.#policy.inProgressTtlS }),
          request.storeTimeoutMs,
          WHAT,
        );
      } catch (err) {
        // The SET may still land after the timeout: give the key back so a retry is not blocked
        // until the in-progress record expires (a failure here leaves the record to its TTL).
        request.background(this.#release(request, token));
        throw err;
      }
      if (previous === null || previous === 'OK') return { kind: 'claimed', holder: this.#holder(request, token) };
      const outcome = await this.#existing(request, previous, deadline);
      if (outcome !== 'free') return outcome;
    }
  }

  /** Judges the record a claim found; waits for an in-progress one per the policy; `free` when it vanished. */
  async #existing(request: ClaimRequest, found: unknown, deadline: number): Promise<Claim<T> | 'free'> {
    let current = found;
    for (;;) {
      if (current === null) return 'free';
      const completed = this.#completed.safeParse(current);
      const inProgress = completed.success ? undefined : InProgressSchema.safeParse(current).data;
      const fingerprint = completed.success ? completed.data.fingerprint : inProgress?.fingerprint;
      if (fingerprint === undefined) {
        throw new ApiError('CONFLICT', `${request.label} holds an unreadable record; use a new one`, { details: request.details });
      }
      if (fingerprint !== request.fingerprint) {
        throw new ApiError('CONFLICT', `${request.label} was already used with a different request body`, { details: request.details });
      }
      if (completed.success) return { kind: 'replay', value: completed.data.value };
      const left = deadline - this.#policy.now();
      if (left <= 0) {
        const retryAfter = this.#policy.retryAfterS ?? 1;
        throw new ApiError('CONFLICT', `a request with ${request.label} is still in progress; retry after it completes`, {
          details: { ...request.details, retry_after: retryAfter },
          headers: { 'Retry-After': String(retryAfter) },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.#policy.pollMs ?? 100, left)));
      current = await storeCall(request.store.get<unknown>(request.key), request.storeTimeoutMs, WHAT);
    }
  }

  #holder(request: ClaimRequest, token: string): ClaimHolder<T> {
    return {
      complete: async (value) => {
        const record = { status: 'completed' as const, token, fingerprint: request.fingerprint, value };
        const written = await storeCall(
          request.store.eval(COMPLETE, [request.key], [token, JSON.stringify(record), String(this.#policy.completedTtlS)]),
          request.storeTimeoutMs,
          WHAT,
        );
        return written === 1;
      },
      release: async () => {
        await storeCall(this.#release(request, token), request.storeTimeoutMs, WHAT);
      },
    };
  }

  /** Deletes the key if `token` still holds it. */
  async #release(request: ClaimRequest, token: string): Promise<void> {
    await request.store.eval(RELEASE, [request.key], [token]);
  }
}
