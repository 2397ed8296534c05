/**
 * The local dashboard's usage by tenant: the ledger's per-tenant aggregates of one UTC day, read
 * from the store (the hashes the usage consumer writes, edge/services/usage/ledger-store.ts), and
 * drawn as the top tenants by tokens and by cost. Only the local dashboard has this view: CloudWatch
 * gets the ledger's totals alone (no per-tenant dimension, whose cost grows with the tenants).
 */
import type { Redis } from '@upstash/redis';
import { aggregateKey, parseAggregateField, tenantOfAggregateKey } from '../../edge/services/usage/ledger-store';

export interface TenantUsage {
  readonly tenantId: string;
  readonly requests: number;
  readonly tokens: number;
  readonly cacheHits: number;
  readonly costMicros: number;
}

/** How many tenants each table shows. */
const TOP = 10;

/** Every tenant's usage of `day` (YYYY-MM-DD), from the aggregates in the store. */
export async function tenantUsage(store: Pick<Redis, 'scan' | 'hgetall'>, day: string): Promise<TenantUsage[]> {
  const pattern = aggregateKey('*', day);
  const keys: string[] = [];
  let cursor: string | number = 0;
  do {
    const [next, found]: [string | number, string[]] = await store.scan(cursor, { match: pattern, count: 500 });
    keys.push(...found);
    cursor = next;
  } while (String(cursor) !== '0');
  return Promise.all(
    keys.map(async (key) => {
      const hash = (await store.hgetall<Record<string, number | string>>(key)) ?? {};
      const totals = { requests: 0, tokens: 0, cacheHits: 0, costMicros: 0 };
      for (const [field, raw] of Object.entries(hash)) {
        const parsed = parseAggregateField(field);
        const value = Number(raw);
        if (parsed?.counter === 'requests') totals.requests += value;
        else if (parsed?.counter === 'prompt_tokens' || parsed?.counter === 'completion_tokens') totals.tokens += value;
        else if (parsed?.counter === 'cache_hits') totals.cacheHits += value;
        else if (parsed?.counter === 'cost_micros') totals.costMicros += value;
      }
      return { tenantId: tenantOfAggregateKey(key, day), ...totals };
    }),
  );
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function topTable(title: string, rows: readonly TenantUsage[], by: (u: TenantUsage) => number): string {
  const top = [...rows].sort((a, b) => by(b) - by(a)).slice(0, TOP);
  const body = top.length
    ? top
        .map(
          (u) =>
            `<tr data-tenant="${escapeHtml(u.tenantId)}"><td>${escapeHtml(u.tenantId)}</td><td class="value">${u.requests}</td><td class="value">${u.tokens}</td><td class="value">${u.cacheHits}</td><td class="value">${(u.costMicros / 1_000_000).toFixed(6)}</td></tr>`,
        )
        .join('')
    : '<tr><td class="empty" colspan="5">no usage recorded today</td></tr>';
  return `<div class="widget"><h3>${escapeHtml(title)}</h3><table><tr><td>tenant</td><td class="value">requests</td><td class="value">tokens</td><td class="value">cache hits</td><td class="value">cost</td></tr>${body}</table></div>`;
}

/** The section: top tenants by tokens and by cost. */
export function renderUsage(rows: readonly TenantUsage[], day: string): string {
  return `<h2>Usage by tenant (${escapeHtml(day)}, UTC)</h2><p class="note">The usage ledger's aggregates in the store (npm run gw -- usage TENANT for one tenant's detail).</p><div class="grid">${topTable('Top tenants by tokens', rows, (u) => u.tokens)}${topTable('Top tenants by cost', rows, (u) => u.costMicros)}</div>`;
}
