/**
 * Where the usage ledger lives: per-tenant aggregates in Redis (a hash per tenant and UTC day, one
 * field per model × key × counter) and the raw records in R2 (gzip NDJSON objects under
 * `usage/dt=YYYY-MM-DD/`). Shared by the consumer that writes both and the routes that read them.
 */
import type { UsageRecord } from '../../../shared/contracts/usage';
import { CACHE_HITS } from '../../../shared/contracts/usage';

/** The counters of an aggregate, in the order the recording script takes them. */
export const COUNTERS = [
  'requests',
  'prompt_tokens',
  'completion_tokens',
  'backend_prompt_tokens',
  'backend_completion_tokens',
  'cache_hits',
  'cost_micros',
] as const;
export type Counter = (typeof COUNTERS)[number];

const AGGREGATE_PREFIX = 'gw:usage:agg:';

/** A tenant's aggregates of one UTC day. */
export const aggregateKey = (tenantId: string, day: string) => `${AGGREGATE_PREFIX}${tenantId}:${day}`;

/** The tenant of an aggregate key of `day`. */
export const tenantOfAggregateKey = (key: string, day: string) => key.slice(AGGREGATE_PREFIX.length, -(day.length + 1));
/** The record ids already counted for one UTC day (a redelivered record is found here). */
export const seenKey = (day: string) => `gw:usage:seen:${day}`;
/** The fields of one model and key in an aggregate hash start so; model names and key ids never contain `|`. */
export const fieldPrefix = (model: string, keyId: string) => `${model}|${keyId}|`;

/** Splits an aggregate field back into its parts; undefined for a field of another shape. */
export function parseAggregateField(field: string): { model: string; keyId: string; counter: Counter } | undefined {
  const parts = field.split('|');
  if (parts.length !== 3) return undefined;
  const [model, keyId, counter] = parts as [string, string, string];
  return (COUNTERS as readonly string[]).includes(counter) ? { model, keyId, counter: counter as Counter } : undefined;
}

/** The day a record belongs to: the UTC day it ended. */
export const recordDay = (record: UsageRecord) => record.ended_at.slice(0, 10);

/** A record's increments, in {@link COUNTERS} order. */
export function incrementsOf(record: UsageRecord): number[] {
  return [
    1,
    record.prompt_tokens,
    record.completion_tokens,
    record.backend_prompt_tokens,
    record.backend_completion_tokens,
    CACHE_HITS.has(record.cache) ? 1 : 0,
    record.cost_micros,
  ];
}

/** The R2 prefix of a day's raw records. */
export const dayPrefix = (day: string) => `usage/dt=${day}/`;

/** Raw records as gzip NDJSON bytes. */
export async function gzipNdjson(records: readonly UsageRecord[]): Promise<ArrayBuffer> {
  const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
  return new Response(new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer();
}

/** The lines of a gzip NDJSON object. */
export async function gunzipLines(body: ReadableStream<Uint8Array>): Promise<string[]> {
  const text = await new Response(body.pipeThrough(new DecompressionStream('gzip'))).text();
  return text.split('\n').filter((line) => line.length > 0);
}
