/**
 * The local dashboard's usage by tenant, against Redis behind the bridge: aggregates written by the
 * usage consumer's own script are read back per tenant and drawn as the top tenants by tokens and
 * by cost. A day far in the future keeps this file's keys apart from every other test's.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToAggregates } from '../../edge/services/usage/aggregates';
import { aggregateKey, seenKey } from '../../edge/services/usage/ledger-store';
import type { UsageRecord } from '../../shared/contracts/usage';
import { ulid } from '../../shared/ulid';
import { startTestBridge, type TestBridge } from '../upstash-bridge/testing';
import { startMetricsSink, type MetricsSink } from './server';
import { tenantUsage } from './usage';

const day = `2099-0${1 + Math.floor(Math.random() * 9)}-1${Math.floor(Math.random() * 9)}`;
const at = Date.parse(`${day}T12:00:00.000Z`);
const tenants = [0, 1, 2].map((i) => `ten_usage${i}${randomUUID().slice(0, 8)}`);
let tb: TestBridge;
let sink: MetricsSink;

function record(tenant: string, tokens: [number, number], cost: number, cache: UsageRecord['cache'] = 'MISS'): UsageRecord {
  const iso = new Date(at).toISOString();
  return {
    record_id: ulid(at),
    request_id: randomUUID(),
    tenant_id: tenant,
    key_id: 'key_a',
    model: 'm',
    route: '/v1/infer',
    backend: 'b',
    variant: '',
    status: 200,
    error_code: null,
    cache,
    prompt_tokens: tokens[0],
    completion_tokens: tokens[1],
    backend_prompt_tokens: cache === 'MISS' ? tokens[0] : 0,
    backend_completion_tokens: cache === 'MISS' ? tokens[1] : 0,
    n: 1,
    stream: false,
    ttft_ms: 5,
    latency_ms: 10,
    started_at: iso,
    ended_at: iso,
    cost_micros: cost,
    currency: 'USD',
  };
}

beforeAll(async () => {
  tb = await startTestBridge();
  const client = tb.client();
  const [a, b, c] = tenants as [string, string, string];
  // a: most tokens, little cost; b: most cost; c: one cache hit.
  const records = [record(a, [900, 100], 10), record(a, [500, 0], 10), record(b, [10, 10], 5_000), record(c, [20, 5], 0, 'L0')];
  expect(await addToAggregates(client, records)).toBe(4);
  // The same batch again (a redelivery) counts nothing.
  expect(await addToAggregates(client, records)).toBe(0);
  sink = await startMetricsSink({ port: 0, region: 'us-east-1', credentials: [], now: () => at, usage: (d) => tenantUsage(client, d) });
});
afterAll(async () => {
  await tb.direct.del(seenKey(day), ...tenants.map((t) => aggregateKey(t, day)));
  await sink?.close();
  await tb?.close();
});

describe('usage by tenant', () => {
  it('reads each tenant’s day from the aggregates', async () => {
    const rows = await tenantUsage(tb.client(), day);
    const mine = rows.filter((r) => tenants.includes(r.tenantId)).sort((x, y) => x.tenantId.localeCompare(y.tenantId));
    expect(mine).toEqual(
      [
        { tenantId: tenants[0], requests: 2, tokens: 1_500, cacheHits: 0, costMicros: 20 },
        { tenantId: tenants[1], requests: 1, tokens: 20, cacheHits: 0, costMicros: 5_000 },
        { tenantId: tenants[2], requests: 1, tokens: 25, cacheHits: 1, costMicros: 0 },
      ].sort((x, y) => String(x.tenantId).localeCompare(String(y.tenantId))),
    );
  });

  it('draws the top tenants by tokens and by cost on the dashboard', async () => {
    const html = await (await fetch(`${sink.url}/`)).text();
    expect(html).toContain(`Usage by tenant (${day}, UTC)`);
    const [byTokens = '', byCost = ''] = html.split('<h3>').filter((s) => s.startsWith('Top tenants'));
    const order = (section: string) => [...section.matchAll(/data-tenant="([^"]+)"/g)].map((m) => m[1]).filter((t) => tenants.includes(t ?? ''));
    expect(order(byTokens)).toEqual([tenants[0], tenants[2], tenants[1]]);
    expect(order(byCost)[0]).toBe(tenants[1]);
  });
});
