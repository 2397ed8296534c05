/**
 * The usage ledger's recorder, on every `/v1` route: it makes the request's record id when the
 * request arrives, lets the stages fill the request's {@link UsageFacts}, and once the request has
 * ended — a stream at its end or when the client left, which the stages announce through
 * `facts.settled` — hands one record to the usage queue from `waitUntil`, batched with the
 * isolate's other requests (services/usage/send.ts). Nothing here is on the critical path: the
 * record is built and sent after the answer. Requests that never authenticated
 * (401s, the per-IP guard, operator routes) belong to no tenant and are not recorded. With
 * `USAGE_LEDGER=off` nothing is: no facts for the stages to fill, no record, no queue send.
 */
import type { MiddlewareHandler } from 'hono';
import { ulid } from '../../shared/ulid';
import type { AppEnv } from '../env';
import { runInBackground } from '../services/background';
import { withDeadline } from '../services/deadline';
import type { MetricsRecorder } from '../services/metrics';
import type { UsageFacts } from '../services/usage/facts';
import { usageRecord } from '../services/usage/record';
import { queueUsageRecord } from '../services/usage/send';
import { routeLabel } from './metrics';

/** The longest a recorder waits for a streamed answer to end (the longest tier deadline, and then some). */
const STREAM_END_WAIT_MS = 15 * 60_000;

export interface UsageLedgerOptions {
  readonly now: () => number;
  readonly metrics: MetricsRecorder;
}

export function usageLedger(options: UsageLedgerOptions): MiddlewareHandler<AppEnv> {
  const { now, metrics } = options;
  return async function usageLedger(c, next) {
    if (c.get('config').usageLedger === 'off') return next();
    const facts: UsageFacts = { recordId: ulid(now()), startedAt: now() };
    c.set('usage', facts);
    await next();
    const auth = c.get('auth');
    if (!auth || facts.deferred) return;
    const res = c.res;
    const answeredAt = now();
    const work = (async () => {
      // A stream's facts are complete only at its end; any other answer's are complete now.
      const streaming = res.headers.get('content-type')?.startsWith('text/event-stream') === true;
      if (streaming && facts.settled) await withDeadline(facts.settled, STREAM_END_WAIT_MS, 'the stream').catch(() => undefined);
      // Everything the record says is taken now; it is built when its batch leaves (services/usage/send.ts).
      const request = {
        requestId: c.get('requestId'),
        tenantId: auth.tenantId,
        keyId: auth.keyId,
        route: routeLabel(c),
        status: res.status,
        errorCode: c.get('outcome')?.code ?? (facts.incomplete === 'upstream' ? 'UPSTREAM_ERROR' : undefined),
        backend: res.headers.get('x-backend') ?? '',
        variant: res.headers.get('x-variant') ?? '',
        endedAt: facts.endedAt ?? (streaming ? now() : answeredAt),
      };
      const routes = c.get('config')?.routes;
      await queueUsageRecord(c.env, () => usageRecord(facts, request, routes), metrics);
    })();
    runInBackground(c, work);
  };
}
