/**
 * The routing policy as plain functions: what a failed attempt means (retry here, fall back,
 * hold a warming backend, or answer the client now), what it means to the breaker, and how long to
 * wait before a retry (exponential backoff with full jitter, never less than the backend's
 * Retry-After).
 */
import { ApiError } from '../../errors';
import type { RetrySettings } from '../route-table';
import type { AttemptVerdict } from './health';
import { REASON } from '../../../shared/contracts/boundary';
import { CANCELLED } from '../backend-client';

/** `details.reason` of the edge's own deadline. */
export const DEADLINE = 'deadline';

/** What to do after a failed attempt. */
export interface Verdict {
  /** `client`: the request itself is at fault (or the client left): answer now, try nothing else. */
  readonly kind: 'retry' | 'fallback' | 'warming' | 'client' | 'deadline';
  readonly breaker: AttemptVerdict;
  /** The backend's Retry-After in ms, when it sent one that applies. */
  readonly retryAfterMs: number | undefined;
}

const reasonOf = (error: ApiError): string | undefined => {
  const reason = error.details?.reason;
  return typeof reason === 'string' ? reason : undefined;
};

/** Turns anything thrown by an attempt into an ApiError (never a bare 500 for a backend problem). */
export function asApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  return new ApiError('UPSTREAM_ERROR', 'the backend call failed', { status: 502, cause: err });
}

/** Classifies a failed attempt (SPEC §7: retry only connection errors, 429 and 503). */
export function classify(error: ApiError): Verdict {
  const reason = reasonOf(error);
  const header = error.headers['Retry-After'];
  const retryAfterMs = header !== undefined && /^\d{1,5}$/.test(header) ? Number(header) * 1000 : undefined;
  if (reason === CANCELLED) return { kind: 'client', breaker: 'neutral', retryAfterMs: undefined };
  if (reason === DEADLINE) return { kind: 'deadline', breaker: 'failure', retryAfterMs: undefined };
  if (reason === REASON.unreachable) return { kind: 'retry', breaker: 'failure', retryAfterMs: undefined };
  // "Scaled to zero" (SageMaker NoCapacityInvocationFailures): hold the backend (do not call it)
  // until its Retry-After, so one request triggers the scale-out.
  if (error.status === 503 && reason === REASON.no_capacity) return { kind: 'warming', breaker: 'neutral', retryAfterMs };
  // A loading model, but also what a container's transient 503 maps to: not held (one transient
  // answer must not black-hole a backend for the adapter's 30 s Retry-After); the request falls
  // back, or gets 503 with Retry-After, and the breaker ignores it.
  if (error.status === 503 && reason === REASON.model_not_ready) return { kind: 'fallback', breaker: 'neutral', retryAfterMs };
  // Overload is not a fault of the backend's health: retry after its Retry-After, keep the breaker out of it.
  if (error.status === 429) return { kind: 'retry', breaker: 'neutral', retryAfterMs };
  if (error.status === 503) return { kind: 'retry', breaker: 'failure', retryAfterMs };
  // The request's own fault (model_rejected_input, unknown model…): another backend would say the same.
  if (error.status >= 400 && error.status < 500) return { kind: 'client', breaker: 'neutral', retryAfterMs: undefined };
  return { kind: 'fallback', breaker: 'failure', retryAfterMs: undefined };
}

/**
 * Wait before retry number `retry` (1 for the first retry): full jitter over
 * min(cap, base·2^(retry−1)), and at least the backend's Retry-After.
 */
export function backoffMs(retry: number, settings: RetrySettings, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const ceiling = Math.min(settings.capMs, settings.baseMs * 2 ** (retry - 1));
  return Math.max(Math.floor(random() * ceiling), retryAfterMs ?? 0);
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  const cancelled = () => new ApiError('UPSTREAM_ERROR', 'request cancelled', { status: 503, details: { reason: CANCELLED } });
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
