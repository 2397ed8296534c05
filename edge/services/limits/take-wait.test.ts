/**
 * What a request does when its takes outlive a store deadline (take-wait.ts), over hand-made takes:
 * decided takes stand, a queue behind a store that keeps answering waits and then gets 503, and
 * anything else (a store error, or silence for a whole deadline) goes to the outage policy.
 */
import { describe, expect, it } from 'vitest';
import { DeadlineExceededError } from '../deadline';
import type { Grant, PendingTake, TakeOutcome } from './lease';
import { afterDeadline, QUEUE_PATIENCE } from './take-wait';

const timeoutMs = 1_000;
const deadline = new DeadlineExceededError('the rate-limit store did not answer within 1000 ms');
const grant = { lease: undefined as never, epoch: 1, units: 1, reset: 60_000 } satisfies Grant;

function pending(state: { decided?: TakeOutcome; answering?: boolean }): PendingTake {
  return {
    outcome: new Promise<TakeOutcome>(() => {}),
    decided: () => state.decided,
    storeAnswering: (ms) => {
      expect(ms).toBe(timeoutMs);
      return state.answering ?? false;
    },
    cancel: () => {},
  };
}

describe('after a store deadline', () => {
  it('keeps the outcomes when every take was decided in time', () => {
    const refused: TakeOutcome = { granted: false, reset: 60_000 };
    const next = afterDeadline([grant, pending({ decided: refused })], deadline, timeoutMs, timeoutMs);
    expect(next).toEqual({ next: 'decided', outcomes: [{ granted: true, grant }, refused] });
  });

  it(`waits on while the store answers every waiting take's lease, up to ${QUEUE_PATIENCE} deadlines, then is busy`, () => {
    const takes = [grant, pending({ answering: true }), pending({ decided: { granted: true, grant } })];
    expect(afterDeadline(takes, deadline, timeoutMs, timeoutMs)).toEqual({ next: 'wait' });
    expect(afterDeadline(takes, deadline, QUEUE_PATIENCE * timeoutMs - 1, timeoutMs)).toEqual({ next: 'wait' });
    expect(afterDeadline(takes, deadline, QUEUE_PATIENCE * timeoutMs, timeoutMs)).toEqual({ next: 'busy' });
  });

  it('is an outage when one waiting take’s lease has not heard from the store for a deadline, or the store failed', () => {
    expect(afterDeadline([pending({ answering: true }), pending({ answering: false })], deadline, timeoutMs, timeoutMs)).toEqual({ next: 'outage' });
    expect(afterDeadline([pending({ answering: true })], new Error('store eval failed: 503'), timeoutMs, timeoutMs)).toEqual({ next: 'outage' });
  });
});
