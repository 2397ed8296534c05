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
import { aggregateKey, COUNTERS, dayPrefix, gzipNdjson, fieldPrefix, incrementsOf, recordDay, seenKey } from '../services/usage/ledger-store';
import { retryDelaySeconds } from './settings';

/** Whether a queue is the usage ledger's (`gw-usage-<env>`). */
export const isUsageQueue = (name: string) => /^gw-usage-(?!dlq-)/.test(name);

/** How long the aggregates and the seen sets are kept (days): past a redelivery's reach, and a year of reads. */
const AGGREGATE_TTL_S = 400 * 86_400;
const SEEN_TTL_S = 35 * 86_400;
/** Bound on one R2 write. */
const BUCKET_TIMEOUT_MS = 15_000;

/**
 * KEYS: per record its seen set and its aggregate hash. ARGV: the two TTLs, then per record its id,
 * its field prefix (`model|key|`) and its increments in COUNTERS order. Returns the records counted.
 */
const RECORD_SCRIPT = `
local counters = {${COUNTERS.map((c) => `'${c}'`).join(',')}}
local width = 2 + #counters
local counted = 0
for i = 1, #KEYS / 2 do
  local base = 2 + (i - 1) * width
  if redis.call('SADD', KEYS[2 * i - 1], ARGV[base + 1]) == 1 then
    redis.call('EXPIRE', KEYS[2 * i - 1], ARGV[2])
    local agg = KEYS[2 * i]
    for j = 1, #counters do
      local v = tonumber(ARGV[base + 2 + j])
      if v ~= 0 then redis.call('HINCRBY', agg, ARGV[base + 2] .. counters[j], v) end
    end
    redis.call('EXPIRE', agg, ARGV[1])
    counted = counted + 1
  end
end
return counted`;

/** Adds records to the aggregates, each at most once; resolves to how many were new. */
export async function addToAggregates(store: Pick<Store, 'eval'>, records: readonly UsageRecord[]): Promise<number> {
  if (records.length === 0) return 0;
  const keys: string[] = [];
  const args: string[] = [String(AGGREGATE_TTL_S), String(SEEN_TTL_S)];
  for (const r of records) {
    const day = recordDay(r);
    keys.push(seenKey(day), aggregateKey(r.tenant_id, day));
    args.push(r.record_id, fieldPrefix(r.model, r.key_id), ...incrementsOf(r).map(String));
  }
  return Number(await store.eval(RECORD_SCRIPT, keys, args));
}

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
