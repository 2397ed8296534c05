/**
 * The store outage policy, proven by stopping a real bridge mid-test (test/setup/outage-bridge.ts):
 * fail-open keeps serving with the in-isolate limiter (which still enforces the plan, counting on
 * from what the store last said was used), logs a warning and counts `StoreUnavailable`; fail-closed
 * answers 503 with Retry-After; never a 500. When the bridge is back, Redis is used again. A slow
 * store that keeps answering is not an outage: a burst over three locations on it stays within L.
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { Redis } from '@upstash/redis/cloudflare';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../app';
import { ErrorEnvelopeSchema } from '../../../shared/errors';
import { IsolateMetrics } from '../metrics';
import { BASE, bridgeQuiet } from '../../testing/gateway-client';
import { RecordingGate } from '../../testing/recording-gate';
import { seedTenantKey, store } from '../../testing/seed';
import { withinOneMinute } from '../../testing/minute';
import { clearStoreFaults, outageBindings, setStoreFaults } from '../../testing/store-faults';

const model = inject('model');
const admin = (action: 'stop' | 'start') =>
  fetch(`${inject('outageBridgeAdminUrl')}/${action}`, { method: 'POST' }).then((r) => r.json() as Promise<{ running: boolean }>);

afterEach(async () => {
  await admin('start');
  await clearStoreFaults();
});

function setup(policy: 'open' | 'closed') {
  const metrics = new IsolateMetrics();
  const app = createApp({ metrics });
  const bindings = {
    ...(env as Record<string, unknown>),
    UPSTASH_REDIS_REST_URL: inject('outageBridgeUrl'),
    STORE_OUTAGE_POLICY: policy,
    STORE_TIMEOUT_MS: '2000',
  };
  const send = (key: string, prompt: string) =>
    app.request(
      `${BASE}/v1/infer`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt, params: { max_tokens: 2 } }),
      },
      bindings,
      createExecutionContext(),
    );
  const unavailable = () =>
    metrics
      .drain()
      .filter((s) => s.metric === 'StoreUnavailable')
      .reduce((n, s) => n + (s.values[0] ?? 0), 0);
  return { send, unavailable };
}

describe('store outage', () => {
  it('fails open with the local limiter, counting on from the store’s last word, when the bridge stops, then returns to Redis', async () => {
    const { send, unavailable } = setup('open');
    const { key } = await seedTenantKey({ overrides: { requestsPerMinute: 3 } });
    const warm = await send(key, 'warm');
    expect(warm.status).toBe(200);
    expect((await admin('stop')).running).toBe(false);
    const during = [];
    for (let i = 0; i < 5; i++) during.push(await send(key, `outage ${i}`));
    const statuses = during.map((r) => r.status);
    const failures = unavailable();
    console.warn(`fail-open: statuses during the outage ${JSON.stringify(statuses)}, StoreUnavailable metric ${failures}`);
    // The local limiter enforces the plan (3 a minute) in the isolate, from the one request the store
    // had counted: two more, not three; never a 500.
    expect(statuses).toEqual([200, 200, 429, 429, 429]);
    expect(failures).toBe(5);
    expect((await admin('start')).running).toBe(true);
    const back = await send(key, 'back');
    // Redis still holds the warm-up request: the Redis counters resume (1 + this one).
    expect(back.status).toBe(200);
    expect(back.headers.get('x-ratelimit-remaining')).toBe('1');
    expect(unavailable()).toBe(0);
  });

  it('fails closed with 503 and Retry-After when so configured', async () => {
    const { send, unavailable } = setup('closed');
    // 3 a minute: too few to lease ahead, so every request needs the store.
    const { key } = await seedTenantKey({ overrides: { requestsPerMinute: 3 } });
    expect((await send(key, 'warm')).status).toBe(200);
    await admin('stop');
    const res = await send(key, 'closed');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    const body = ErrorEnvelopeSchema.parse(await res.json());
    console.warn(`fail-closed: ${res.status} ${body.error.code} retry_after=${String(body.error.details?.retry_after)}`);
    expect(body.error.details?.retry_after).toBe(5);
    expect(unavailable()).toBe(1);
  });

  it('keeps admitting from units the store already leased to the isolate, even when failing closed', async () => {
    const { send, unavailable } = setup('closed');
    const { key } = await seedTenantKey({ overrides: { requestsPerMinute: 600 } });
    // The first request leases a few requests' worth of every window.
    const warm = await send(key, 'warm');
    expect(warm.status).toBe(200);
    await admin('stop');
    const during = await send(key, 'from the lease');
    console.warn(
      `fail-closed with a warm lease: ${during.status}, remaining ${during.headers.get('x-ratelimit-remaining')}, StoreUnavailable ${unavailable()}`,
    );
    expect(during.status).toBe(200);
    expect(Number(during.headers.get('x-ratelimit-remaining'))).toBe(Number(warm.headers.get('x-ratelimit-remaining')) - 1);
    expect(unavailable()).toBe(0);
  });
});

describe('a slow store that keeps answering', () => {
  const latencyMs = 120;
  const deadlineMs = 500;

  /**
   * 300 parallel requests round robin over three locations (each its own app, quota gate and store
   * client, on the one slow store) against 50 a minute; what they got, where each admission came from,
   * and the store's counter once the leases' refunds and idle returns landed.
   */
  async function burst(queuePatience?: number) {
    const bindings = outageBindings({ STORE_TIMEOUT_MS: String(deadlineMs), STORE_OUTAGE_POLICY: 'open' });
    const locations = Array.from({ length: 3 }, () => {
      const client = new Redis({ url: inject('outageBridgeUrl'), token: String(bindings.UPSTASH_REDIS_REST_TOKEN), enableTelemetry: false });
      const gate = new RecordingGate({ lease: { idleMs: 500 }, ...(queuePatience === undefined ? {} : { queuePatience }) });
      return { gate, app: createApp({ quotaGate: gate, store: () => client }) };
    });
    const { key, tenant } = await seedTenantKey({ overrides: { requestsPerMinute: 50 } });
    // Every location knows the key before the burst: the burst is about the limit.
    for (const l of locations) expect((await l.app.request(`${BASE}/v1/models`, { headers: { authorization: `Bearer ${key}` } }, bindings)).status).toBe(200);
    await withinOneMinute(20_000);
    await setStoreFaults({ latencyMs });
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const res = await locations[i % 3]!.app.request(
          `${BASE}/v1/infer`,
          {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model, prompt: `slow store ${i}`, params: { max_tokens: 2 } }),
          },
          bindings,
          createExecutionContext(),
        );
        await res.arrayBuffer();
        return { status: res.status, retryAfter: res.headers.get('retry-after') };
      }),
    );
    const burstMs = Date.now() - started;
    await clearStoreFaults();
    const count = (status: number) => answers.filter((a) => a.status === status).length;
    const sources = locations.flatMap((l) => l.gate.sources);
    const bySource = Object.fromEntries(['lease', 'store', 'local', 'denied'].map((s) => [s, sources.filter((x) => x === s).length]));
    console.warn(
      `slow store (${latencyMs} ms a round trip, ${deadlineMs} ms deadline, patience ${queuePatience ?? 'default'}), 300 over 3 locations, L = 50, decided in ${burstMs} ms: ` +
        `200 ${count(200)}, 429 ${count(429)}, 503 ${count(503)}, decisions ${JSON.stringify(bySource)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await bridgeQuiet();
    const keys = await store.keys(`gw:rl:requests:minute:${tenant.tenantId}:*`);
    const counter = await Promise.all(keys.map(async (k) => Number(await store.get<number>(k))));
    return { answers, count, bySource, counter };
  }

  it('is not an outage: a burst over three locations waits past its deadline and stays within L', { timeout: 120_000 }, async () => {
    const { answers, count, bySource, counter } = await burst();
    expect(count(200) + count(429) + count(503)).toBe(300);
    expect(count(200)).toBeLessThanOrEqual(50);
    // A 429 is a real decision of the limit: at least L − K + 1 went to requests that were not told to retry.
    expect(count(200) + count(503)).toBeGreaterThanOrEqual(50 - 3 + 1);
    // No request was admitted by a location's outage limiter: the store kept answering.
    expect(bySource.local).toBe(0);
    // Requests that waited the longest were refused to retry shortly, never admitted unchecked.
    expect(answers.filter((a) => a.status === 503).every((a) => a.retryAfter === '1')).toBe(true);
    // The store's counter holds what was admitted, once the leases' late refunds and idle returns landed.
    expect(counter).toEqual([count(200)]);
  });

  it('refuses with 503 and Retry-After: 1 what it cannot decide within its patience, never admitting it locally', { timeout: 120_000 }, async () => {
    // One deadline of patience: the burst needs many more round trips than fit in 500 ms.
    const { answers, count, bySource, counter } = await burst(1);
    const busy = answers.filter((a) => a.status === 503);
    expect(count(200) + count(429) + busy.length).toBe(300);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((a) => a.retryAfter === '1')).toBe(true);
    expect(bySource.local).toBe(0);
    expect(count(200)).toBeLessThanOrEqual(50);
    // A refused request leaves nothing taken: the counter holds what was admitted.
    expect(counter).toEqual([count(200)]);
  });
});
