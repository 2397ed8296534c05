/**
 * Test support for the usage ledger inside workerd: the raw records through the operator export
 * route (each record once), every stored copy straight from the bucket (to see redelivered
 * duplicates), and a tenant's aggregates through `GET /v1/usage`.
 */
import { env, SELF } from 'cloudflare:test';
import type { UsageRecord, UsageReport } from '../../shared/contracts/usage';
import type { Bindings } from '../env';
import { gunzipLines } from '../services/usage/ledger-store';
import { BASE } from './gateway-client';

const bindings = env as unknown as Bindings;

/** The deduplicated records of today for `tenantId`, through `GET /v1/admin/usage/export`. */
export async function exportedRecords(tenantId: string): Promise<UsageRecord[]> {
  const day = new Date().toISOString().slice(0, 10);
  const res = await SELF.fetch(`${BASE}/v1/admin/usage/export?from=${day}&to=${day}&tenant=${tenantId}`, {
    headers: { authorization: `Bearer ${bindings.OPERATOR_TOKEN}` },
  });
  if (res.status !== 200) throw new Error(`export answered ${res.status}: ${await res.text()}`);
  return (await res.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as UsageRecord);
}

/** Every stored copy of today's records of `tenantId` (a redelivery leaves two). */
export async function storedCopies(tenantId: string): Promise<UsageRecord[]> {
  const bucket = bindings.USAGE_BUCKET!;
  const listed = await bucket.list({ prefix: `usage/dt=${new Date().toISOString().slice(0, 10)}/` });
  const copies: UsageRecord[] = [];
  for (const object of listed.objects) {
    const body = await bucket.get(object.key);
    if (body) copies.push(...(await gunzipLines(body.body)).map((l) => JSON.parse(l) as UsageRecord).filter((r) => r.tenant_id === tenantId));
  }
  return copies;
}

/**
 * A tenant's usage of today through `GET /v1/usage`: with the operator credential (a read that is
 * itself no request of the tenant's, so it adds no record), or with the tenant's own admin key.
 */
export async function usageReport(groupBy: 'day' | 'model' | 'key', as: { tenantId: string } | { key: string }): Promise<UsageReport> {
  const day = new Date().toISOString().slice(0, 10);
  const [query, credential] = 'key' in as ? ['', as.key] : [`&tenant=${as.tenantId}`, bindings.OPERATOR_TOKEN];
  const res = await SELF.fetch(`${BASE}/v1/usage?group_by=${groupBy}&from=${day}${query}`, { headers: { authorization: `Bearer ${credential}` } });
  if (res.status !== 200) throw new Error(`usage answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as UsageReport;
}
