/**
 * Reading the usage ledger: a tenant's aggregates over a range of UTC days, grouped by day, model
 * or key (from Redis, one hash per day), and the raw records of a time range (from R2), each record
 * once: a redelivered batch may have left a second copy in another object, dropped here by record_id.
 */
import { type UsageGroup, type UsageRecord, UsageRecordSchema, type UsageRow, utcDay } from '../../../shared/contracts/usage';
import type { Store } from '../store';
import { aggregateKey, type Counter, dayPrefix, gunzipLines, parseAggregateField } from './ledger-store';

/** The longest range one read covers (days). */
export const MAX_RANGE_DAYS = 366;

/** Every UTC day from `from` to `to` (ms), inclusive. */
export function daysBetween(from: number, to: number): string[] {
  const days: string[] = [];
  for (let at = Date.parse(`${utcDay(from)}T00:00:00.000Z`); at <= to; at += 86_400_000) days.push(utcDay(at));
  return days;
}

/** A tenant's usage per group over the days from `from` to `to`, heaviest cost first (a day grouping: in order of days). */
export async function readAggregates(store: Pick<Store, 'hgetall'>, tenantId: string, from: number, to: number, groupBy: UsageGroup): Promise<UsageRow[]> {
  const days = daysBetween(from, to);
  const hashes = await Promise.all(days.map((day) => store.hgetall<Record<string, number | string>>(aggregateKey(tenantId, day))));
  const rows = new Map<string, UsageRow>();
  const add = (group: string, counter: Counter, value: number) => {
    let row = rows.get(group);
    if (!row) {
      row = {
        group,
        requests: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        backend_prompt_tokens: 0,
        backend_completion_tokens: 0,
        cache_hits: 0,
        cost_micros: 0,
      };
      rows.set(group, row);
    }
    row[counter] += value;
  };
  hashes.forEach((hash, i) => {
    for (const [field, value] of Object.entries(hash ?? {})) {
      const parsed = parseAggregateField(field);
      if (!parsed) continue;
      const group = groupBy === 'day' ? days[i]! : groupBy === 'model' ? parsed.model : parsed.keyId;
      add(group, parsed.counter, Number(value));
    }
  });
  const list = [...rows.values()];
  return groupBy === 'day'
    ? list.sort((a, b) => a.group.localeCompare(b.group))
    : list.sort((a, b) => b.cost_micros - a.cost_micros || b.requests - a.requests);
}

export interface ExportQuery {
  readonly from: number;
  readonly to: number;
  /** Only this tenant's records; none: every tenant's. */
  readonly tenantId?: string;
}

/** The raw records that ended within the range, each record_id once, in the order they were stored. */
export async function* exportRecords(bucket: R2Bucket, query: ExportQuery): AsyncGenerator<UsageRecord, void, undefined> {
  const seen = new Set<string>();
  for (const day of daysBetween(query.from, query.to)) {
    let cursor: string | undefined;
    do {
      const listed = await bucket.list({ prefix: dayPrefix(day), ...(cursor ? { cursor } : {}) });
      for (const object of listed.objects) {
        const body = await bucket.get(object.key);
        if (!body) continue;
        for (const line of await gunzipLines(body.body)) {
          const parsed = UsageRecordSchema.safeParse(JSON.parse(line));
          if (!parsed.success) continue;
          const record = parsed.data;
          const ended = Date.parse(record.ended_at);
          if (seen.has(record.record_id) || ended < query.from || ended > query.to) continue;
          if (query.tenantId !== undefined && record.tenant_id !== query.tenantId) continue;
          seen.add(record.record_id);
          yield record;
        }
      }
      cursor = listed.truncated ? listed.cursor : undefined;
    } while (cursor);
  }
}
