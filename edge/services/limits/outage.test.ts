/**
 * The store outage policy, proven by stopping a real bridge mid-test (test/setup/outage-bridge.ts):
 * fail-open keeps serving with the in-isolate limiter (which still enforces the plan), logs a warning
 * and counts `StoreUnavailable`; fail-closed answers 503 with Retry-After; never a 500. When the
 * bridge is back, Redis is used again.
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../app';
import { ErrorEnvelopeSchema } from '../../../shared/errors';
import { IsolateMetrics } from '../metrics';
import { BASE } from '../../testing/gateway-client';
import { seedTenantKey } from '../../testing/seed';

const model = inject('model');
const admin = (action: 'stop' | 'start') =>
  fetch(`${inject('outageBridgeAdminUrl')}/${action}`, { method: 'POST' }).then((r) => r.json() as Promise<{ running: boolean }>);

afterEach(async () => {
  await admin('start');
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
  it('fails open with the local limiter when the bridge stops, then returns to Redis', async () => {
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
    // The local limiter enforces the plan (3 a minute) in the isolate; never a 500.
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
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
