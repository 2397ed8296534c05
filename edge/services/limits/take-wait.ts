/**
 * What a request does when its takes outlive a store deadline (gate.ts). Three cases:
 * - every take was decided by then (the deadline fired in the same turn): the outcomes stand;
 * - each take still waiting sits behind a store that keeps answering its lease (a burst near the
 *   limit on a slow store: refusal rounds take turns on one lease, each within the deadline): not an
 *   outage, so the request waits on, up to `patience` deadlines ({@link QUEUE_PATIENCE}), and is then refused
 *   with 503 (`busy`). Falling over to the outage limiter here would admit from one isolate's count
 *   while the store is still counting for every location, and a burst would pass the limit;
 * - otherwise the store did not answer (an error, or silence for a whole deadline): the outage policy.
 */
import { DeadlineExceededError } from '../deadline';
import { type Grant, isGrant, type PendingTake, type TakeOutcome } from './lease';

/** How many store deadlines a request waits in a lease's queue while the store keeps answering the lease. */
export const QUEUE_PATIENCE = 5;

export type AfterDeadline =
  | { readonly next: 'decided'; readonly outcomes: TakeOutcome[] }
  | { readonly next: 'wait' }
  | { readonly next: 'busy' }
  | { readonly next: 'outage' };

/** The next step of a request whose wait for `takes` failed with `err` after `waitedMs` in all. */
export function afterDeadline(
  takes: ReadonlyArray<Grant | PendingTake>,
  err: unknown,
  waitedMs: number,
  timeoutMs: number,
  patience = QUEUE_PATIENCE,
): AfterDeadline {
  const outcomes = takes.map((t): TakeOutcome | undefined => (isGrant(t) ? { granted: true, grant: t } : t.decided()));
  if (outcomes.every((o) => o !== undefined)) return { next: 'decided', outcomes: outcomes as TakeOutcome[] };
  const answering = err instanceof DeadlineExceededError && takes.every((t, i) => outcomes[i] !== undefined || (!isGrant(t) && t.storeAnswering(timeoutMs)));
  if (!answering) return { next: 'outage' };
  return waitedMs < patience * timeoutMs ? { next: 'wait' } : { next: 'busy' };
}
