/**
 * Handing a usage record to the usage queue: from the request's `waitUntil` (edge/middleware/usage.ts)
 * or from the job consumer when an async job ends. Never on a client's critical path, never thrown.
 */
import type { UsageRecord } from '../../../shared/contracts/usage';
import { EdgeMetric } from '../../../shared/metrics-catalog';
import type { Bindings } from '../../env';
import { withDeadline } from '../deadline';
import { describeError, log } from '../log';
import type { MetricsRecorder } from '../metrics';

/** Bound on the queue send. */
const SEND_TIMEOUT_MS = 10_000;

/** Sends one record to the usage queue; a missing binding or a failed send is counted and logged, never thrown. */
export async function sendUsageRecord(env: Bindings, record: UsageRecord, metrics: MetricsRecorder): Promise<void> {
  try {
    if (!env.USAGE_QUEUE) throw new Error('no USAGE_QUEUE binding');
    await withDeadline(env.USAGE_QUEUE.send(record, { contentType: 'json' }), SEND_TIMEOUT_MS, 'the usage queue');
    metrics.count(EdgeMetric.UsageRecords);
    if (record.cost_micros > 0) metrics.count(EdgeMetric.UsageCostMicros, {}, record.cost_micros);
  } catch (err) {
    metrics.count(EdgeMetric.UsageRecordsLost);
    log('error', 'usage record lost', { request_id: record.request_id, record_id: record.record_id, tenant_id: record.tenant_id, ...describeError(err) });
  }
}
