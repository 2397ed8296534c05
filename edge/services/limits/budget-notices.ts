/**
 * The spend budget's notifications: a signed (Standard Webhooks) `budget.threshold` notice to the
 * tenant's callback URL when its month's spend reaches 80 % and when it reaches 100 % (or a request
 * is refused for the budget), each once per tenant and month. Once-only is the shared claim
 * primitive (services/claim.ts) on a key of the month and threshold, completed once the notice is on
 * the delivery queue (released when it could not be queued, so a later request sends it); the
 * delivery consumer signs and delivers it like a job result.
 */
import * as z from 'zod';
import { utcMonth } from '../../../shared/contracts/usage';
import type { Bindings } from '../../env';
import { enqueue } from '../../queues/producer';
import { Claims } from '../claim';
import { describeError, log } from '../log';
import type { Store } from '../store';

export const BUDGET_THRESHOLDS = [80, 100] as const;

/** Notices are claimed for longer than a month lasts. */
const NOTICE_TTL_S = 40 * 86_400;

// Stateless apart from its policy: one per isolate is the same as one per call.
const claims = new Claims({ value: z.object({}), completedTtlS: NOTICE_TTL_S, inProgressTtlS: 60, waitMs: 0, now: Date.now });

export interface BudgetNoticeInput {
  readonly env: Bindings;
  readonly store: Store;
  readonly tenantId: string;
  readonly limitMicros: number;
  /** The month's spend after the request (the limit itself when a request was refused for it). */
  readonly spentMicros: number;
  readonly currency: string;
  readonly now: number;
  readonly storeTimeoutMs: number;
  readonly background: (work: Promise<unknown>) => void;
}

/** Sends each threshold's notice the spend has reached and that was not sent this month; never rejects. */
export async function noticeBudget(input: BudgetNoticeInput): Promise<void> {
  const month = utcMonth(input.now);
  const reached = BUDGET_THRESHOLDS.filter((t) => input.spentMicros * 100 >= input.limitMicros * t);
  await Promise.all(
    reached.map(async (threshold) => {
      try {
        const claim = await claims.claim({
          store: input.store,
          key: `gw:budget:notice:${input.tenantId}:${month}:${threshold}`,
          fingerprint: 'budget.threshold',
          label: `the ${threshold} % budget notice`,
          storeTimeoutMs: input.storeTimeoutMs,
          background: input.background,
        });
        if (claim.kind !== 'claimed') return;
        try {
          await enqueue(input.env, {
            kind: 'notice',
            deliveryId: `msg_budget_${input.tenantId}_${month}_${threshold}`,
            tenantId: input.tenantId,
            type: 'budget.threshold',
            data: {
              tenant_id: input.tenantId,
              month,
              threshold_percent: threshold,
              limit_micros: input.limitMicros,
              spent_micros: input.spentMicros,
              currency: input.currency,
            },
          });
        } catch (err) {
          await claim.holder.release();
          throw err;
        }
        await claim.holder.complete({});
      } catch (err) {
        // In progress elsewhere (409), the store or the queue down: the next request tries again.
        log('info', 'budget notice not sent now', { tenant_id: input.tenantId, threshold, ...describeError(err) });
      }
    }),
  );
}
