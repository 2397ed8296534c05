/**
 * Handing usage records to the usage queue. A request's record (edge/middleware/usage.ts, a shadow
 * call's in stages/prepare.ts) joins its isolate's open batch (services/linger-batch.ts): what the
 * isolate's requests finish within {@link USAGE_BATCH_LINGER_MS} leaves in one `sendBatch` from
 * `waitUntil`, so a request's own path only queues a builder and the queue sees one send per batch,
 * not per request. The job consumer sends its record directly. Never on a client's critical path,
 * never thrown: a record that cannot be sent is counted and logged with its ids.
 */
import type { UsageRecord } from '../../../shared/contracts/usage';
import { EdgeMetric } from '../../../shared/metrics-catalog';
import type { Bindings } from '../../env';
import { withDeadline } from '../deadline';
import { LingerBatcher } from '../linger-batch';
import { describeError, log } from '../log';
import type { MetricsRecorder } from '../metrics';

/** Bound on one queue send. */
const SEND_TIMEOUT_MS = 10_000;
/** How long an isolate's batch of usage records stays open for more requests' records (ms). */
export const USAGE_BATCH_LINGER_MS = 50;
/** Records per batch, so per `sendBatch` (Cloudflare Queues' limit; records are far below its 256 KB per batch). */
export const MAX_USAGE_BATCH = 100;

/** This isolate's open batches of usage records. */
const batches = new LingerBatcher<() => UsageRecord>(USAGE_BATCH_LINGER_MS, MAX_USAGE_BATCH);

/**
 * Queues a request's record (built when its batch leaves, from values taken already) for the usage
 * queue; the batch's send when this request is to send it (hand it to `waitUntil`), else undefined.
 */
export function queueUsageRecord(env: Bindings, build: () => UsageRecord, metrics: MetricsRecorder): Promise<void> | undefined {
  return batches.add('usage', build, (builders) =>
    sendUsageRecords(
      env,
      builders.map((b) => b()),
      metrics,
    ),
  );
}

/**
 * Sends up to {@link MAX_USAGE_BATCH} records to the usage queue in one `sendBatch` (a request batch
 * is capped at that size, the job consumer sends one); a failure is counted and logged per record, never thrown.
 */
export async function sendUsageRecords(env: Bindings, records: readonly UsageRecord[], metrics: MetricsRecorder): Promise<void> {
  try {
    if (!env.USAGE_QUEUE) throw new Error('no USAGE_QUEUE binding');
    const messages = records.map((body) => ({ body, contentType: 'json' as const }));
    await withDeadline(env.USAGE_QUEUE.sendBatch(messages), SEND_TIMEOUT_MS, 'the usage queue');
    metrics.count(EdgeMetric.UsageRecords, {}, records.length);
    const cost = records.reduce((sum, r) => sum + r.cost_micros, 0);
    if (cost > 0) metrics.count(EdgeMetric.UsageCostMicros, {}, cost);
  } catch (err) {
    metrics.count(EdgeMetric.UsageRecordsLost, {}, records.length);
    for (const r of records)
      log('error', 'usage record lost', { request_id: r.request_id, record_id: r.record_id, tenant_id: r.tenant_id, ...describeError(err) });
  }
}
