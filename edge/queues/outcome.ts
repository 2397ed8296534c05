/**
 * What one attempt at a queue message came to: ack it, retry it later, wait, or move it to the dead
 * letters. A retry names its cause, because the two are retried on different schedules
 * (settings.ts): a failure of the work itself (the backend, a forward target, a callback) has a few
 * attempts; the store being unreachable is retried for at least ten minutes before it dead-letters.
 * A wait is no failure: the work was told when to come back (a tenant's limits and their
 * Retry-After), and how long it may keep waiting is the work's own deadline, not the queue's attempts.
 */
import type { FailureCause } from './settings';

export type Outcome =
  | { readonly kind: 'done' }
  /** The work failed on its attempt `attempt` (of its own budget, not the platform's count). */
  | { readonly kind: 'retry'; readonly cause: Extract<FailureCause, 'backend'>; readonly attempt: number; readonly reason: string }
  /** The store could not be reached ({@link StoreUnavailableError}). */
  | { readonly kind: 'retry'; readonly cause: Extract<FailureCause, 'store'>; readonly reason: string }
  /** Come back in `delaySeconds`, as a fresh message: waiting spends none of the message's attempts. */
  | { readonly kind: 'wait'; readonly delaySeconds: number; readonly reason: string }
  | { readonly kind: 'dead'; readonly reason: string };

/**
 * Raised by the consumers' store ({@link consumerStore}) when a call failed or did not answer in
 * time: the store is unavailable, which is retried, never counted against the work's attempts.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
