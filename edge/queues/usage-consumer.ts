/**
 * The usage queue's consumer: each batch is appended to R2 as gzip NDJSON (one object per UTC day
 * in the batch) and then added to the per-tenant aggregates in Redis by one script that, for each
 * record, adds its id to the day's seen set and counts it only if it was new, in the same atomic
 * step: a redelivered batch changes no aggregate (its second R2 copy is dropped by the readers, who
 * dedupe by record_id). Both writes are awaited before the handler returns; when either fails the
 * whole batch is retried (a message that is no usage record is acked and logged: no retry can fix it).
 */
import { type UsageRecord, UsageRecordSchema } from '../../shared/contracts/usage';
import { ulid } from '../../shared/ulid';
import type { Bindings } from '../env';
import { withDeadline } from '../services/deadline';
import { describeError, log } from '../services/log';
import type { Store } from '../services/store';
import { addToAggregates } from '../services/usage/aggregates';
import { dayPrefix, gzipNdjson, recordDay } from '../services/usage/ledger-store';
import { retryDelaySeconds } from './settings';

/** Whether a queue is the usage ledger's (`gw-usage-<env>`). */
export const isUsageQueue = (name: string) => /^gw-usage-(?!dlq-)/.test(name);

/** Bound on one R2 write. */
const BUCKET_TIMEOUT_MS = 15_000;

/** Appends records to the bucket, one gzip NDJSON object per UTC day. */
export async function appendRaw(bucket: R2Bucket, records: readonly UsageRecord[], now: number): Promise<void> {
  const byDay = new Map<string, UsageRecord[]>();
  for (const r of records) byDay.set(recordDay(r), [...(byDay.get(recordDay(r)) ?? []), r]);
  await Promise.all(
    [...byDay].map(async ([day, list]) => {
      const body = await gzipNdjson(list);
      const put = bucket.put(`${dayPrefix(day)}${ulid(now)}.ndjson.gz`, body, {
        httpMetadata: { contentType: 'application/x-ndjson' },
        customMetadata: { encoding: 'gzip', records: String(list.length) },
      });
      await withDeadline(put, BUCKET_TIMEOUT_MS, 'the usage bucket');
    }),
  );
}

export interface UsageBatchDeps {
  readonly store: Store;
  readonly now: () => number;
  readonly retryBaseSeconds: number;
}

/** Consumes one batch of the usage queue; never rejects. */
export async function consumeUsage(batch: MessageBatch<unknown>, env: Bindings, deps: UsageBatchDeps): Promise<void> {
  const valid: Array<{ message: Message<unknown>; record: UsageRecord }> = [];
  for (const message of batch.messages) {
    const parsed = UsageRecordSchema.safeParse(message.body);
    if (parsed.success) valid.push({ message, record: parsed.data });
    else {
      log('error', 'malformed usage record dropped', { queue: batch.queue, message_id: message.id });
      message.ack();
    }
  }
  if (valid.length === 0) return;
  const records = valid.map((v) => v.record);
  try {
    if (!env.USAGE_BUCKET) throw new Error('no USAGE_BUCKET binding');
    await appendRaw(env.USAGE_BUCKET, records, deps.now());
    const counted = await addToAggregates(deps.store, records);
    log('info', 'usage batch recorded', { queue: batch.queue, records: records.length, counted });
    for (const v of valid) v.message.ack();
  } catch (err) {
    const attempts = Math.max(...valid.map((v) => v.message.attempts));
    const delaySeconds = retryDelaySeconds('store', attempts, deps.retryBaseSeconds);
    log('warn', 'usage batch will be retried', {
      queue: batch.queue,
      records: records.length,
      attempt: attempts,
      delay_s: delaySeconds,
      ...describeError(err),
    });
    for (const v of valid) v.message.retry({ delaySeconds });
  }
}
