/**
 * The usage ledger's aggregates in Redis: one script adds a batch of records, each counted only
 * when its record_id is new to its day's seen set, in the same atomic step — so a redelivered batch
 * changes nothing. Written by the usage consumer (edge/queues/usage-consumer.ts), read by
 * `GET /v1/usage` (read.ts) and the local dashboard.
 */
import type { UsageRecord } from '../../../shared/contracts/usage';
import type { Store } from '../store';
import { aggregateKey, COUNTERS, fieldPrefix, incrementsOf, recordDay, seenKey } from './ledger-store';

/** How long the aggregates (a year of reads) and the seen sets (past a redelivery's reach) are kept. */
const AGGREGATE_TTL_S = 400 * 86_400;
const SEEN_TTL_S = 35 * 86_400;

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
