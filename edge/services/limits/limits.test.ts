/**
 * Per-tenant limits through the worker in workerd against real Redis (bridge): exact admission under
 * 200 parallel requests for minute, hour and day limits, headers on sync and streamed answers,
 * 429 with Retry-After, token settle after a stream, a blocked tenant costing zero Redis calls, and
 * a warm tenant's miss costing no rate-limit command (the quota leases: leases.test.ts).
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../app';
import { QuotaGate } from './gate';
import { ErrorEnvelopeSchema } from '../../../shared/errors';
import { bridgeQuiet, bridgeStats, eventually, post, resetBridgeStats, sseMessages, modelReset, BASE } from '../../testing/gateway-client';
import { withinOneMinute } from '../../testing/minute';
import { seedTenantKey, store } from '../../testing/seed';
import type { TenantOverrides } from '../../../shared/plans';
import { inject } from 'vitest';

const model = inject('model');

afterEach(async () => {
  await modelReset();
});

/** An app on the worker's bindings with a generous store timeout: a slow shared machine must not trip the outage policy. */
const patient = { ...(env as Record<string, unknown>), STORE_TIMEOUT_MS: '30000' };
const app = createApp();

async function burst(overrides: TenantOverrides, n: number): Promise<{ admitted: number; limited: number; other: number; tenantId: string }> {
  const { key, tenant } = await seedTenantKey({ plan: 'pro', overrides });
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const res = await app.request(
        `${BASE}/v1/infer`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, prompt: `burst ${i}`, params: { max_tokens: 2 } }),
        },
        patient,
        createExecutionContext(),
      );
      await res.text();
      return res.status;
    }),
  );
  return {
    admitted: results.filter((s) => s === 200).length,
    limited: results.filter((s) => s === 429).length,
    other: results.filter((s) => s !== 200 && s !== 429).length,
    tenantId: tenant.tenantId,
  };
}

/** Redis counters of a tenant's window (one per window bucket), once refunds have landed. */
async function windowCounts(kind: string, name: string, tenantId: string): Promise<number[]> {
  await bridgeQuiet();
  const keys = await store.keys(`gw:rl:${kind}:${name}:${tenantId}:*`);
  return Promise.all(keys.map(async (k) => Number(await store.get<number>(k))));
}

describe('request limits', () => {
  it('admits exactly the limit of 200 parallel requests, for minute, hour and day limits', { timeout: 240_000 }, async () => {
    // A minute limit resets on the minute: start the minute burst well inside one.
    await withinOneMinute(20_000);
    const cases: Array<{ name: 'minute' | 'hour' | 'day'; overrides: TenantOverrides; limit: number }> = [
      { name: 'minute', overrides: { requestsPerMinute: 7 }, limit: 7 },
      { name: 'hour', overrides: { requestsPerHour: 13 }, limit: 13 },
      { name: 'day', overrides: { requestsPerDay: 25 }, limit: 25 },
    ];
    for (const c of cases) {
      const r = await burst(c.overrides, 200);
      console.warn(`requests per ${c.name}: admitted ${r.admitted} of 200 parallel (limit ${c.limit}), 429: ${r.limited}, other: ${r.other}`);
      const counts = await windowCounts('requests', c.name, r.tenantId);
      expect(r.other).toBe(0);
      // Each window bucket holds exactly what it admitted: denied requests were refunded.
      expect(counts.every((n) => n === c.limit)).toBe(true);
      expect(r.admitted).toBe(c.limit * counts.length);
      expect(counts.length).toBe(1);
    }
  });

  it('answers 429 with Retry-After, the envelope and the limit headers', async () => {
    const { key } = await seedTenantKey({ overrides: { requestsPerHour: 1 } });
    expect((await post('/v1/infer', key, { model, prompt: 'one' })).status).toBe(200);
    const res = await post('/v1/infer', key, { model, prompt: 'two' });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    const body = ErrorEnvelopeSchema.parse(await res.json());
    expect(body.error.code).toBe('RATE_LIMITED');
    expect(body.error.details?.retry_after).toBe(retryAfter);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(res.headers.get('ratelimit')).toMatch(/^"hour";r=0;t=\d+$/);
  });
});

describe('headers', () => {
  it('carries RateLimit, RateLimit-Policy, X-RateLimit-* and X-TokenLimit-* on a sync answer', async () => {
    const { key } = await seedTenantKey({ overrides: { requestsPerMinute: 50, tokensPerMinute: 10_000 } });
    const res = await post('/v1/infer', key, { model, prompt: 'Headers please', params: { max_tokens: 10 } });
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit-policy')).toBe('"minute";q=50;w=60, "hour";q=50000;w=3600, "day";q=500000;w=86400');
    expect(res.headers.get('ratelimit')).toMatch(/^"minute";r=49;t=\d+$/);
    expect(res.headers.get('x-ratelimit-limit')).toBe('50');
    expect(res.headers.get('x-ratelimit-remaining')).toBe('49');
    expect(Number(res.headers.get('x-ratelimit-reset'))).toBeLessThanOrEqual(60);
    expect(res.headers.get('x-tokenlimit-limit')).toBe('10000');
    // Reserved: the prompt's estimate (4 bytes a token: 14 bytes → 4) + max_tokens 10.
    expect(res.headers.get('x-tokenlimit-remaining')).toBe(String(10_000 - 14));
  });

  it('sets the headers before the first byte of a stream, and settles tokens to the real usage after it', async () => {
    const { key, tenant } = await seedTenantKey({ overrides: { tokensPerDay: 100_000 } });
    const res = await post('/v1/infer/stream', key, { model, prompt: 'Settle my stream please', params: { max_tokens: 30 } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('599');
    expect(res.headers.get('ratelimit-policy')).toContain('"minute";q=600;w=60');
    const reserved = 100_000 - Number(res.headers.get('x-tokenlimit-remaining'));
    expect(reserved).toBe(6 + 30);
    const done = (await sseMessages(res)).at(-1)!;
    expect(done.event).toBe('done');
    const usage = (JSON.parse(done.data) as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    const used = usage.prompt_tokens + usage.completion_tokens;
    // The lease holds more than was used until it goes back idle; then the store holds the usage.
    const [day] = await eventually(
      () => windowCounts('tokens', 'day', tenant.tenantId),
      (c) => c[0] === used,
    );
    console.warn(`token settle: reserved ${reserved}, backend usage ${used}, day window holds ${day}`);
    expect(day).toBe(used);
  });
});

describe('ephemeral block', () => {
  it('answers a blocked tenant from the isolate with zero Redis calls', async () => {
    const { key } = await seedTenantKey({ overrides: { requestsPerHour: 2 } });
    for (const prompt of ['a', 'b']) expect((await post('/v1/infer', key, { model, prompt })).status).toBe(200);
    expect((await post('/v1/infer', key, { model, prompt: 'c' })).status).toBe(429);
    await bridgeQuiet();
    await resetBridgeStats();
    const statuses = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        post('/v1/infer', key, { model, prompt: `blocked ${i}` }).then(async (r) => [r.status, r.headers.get('retry-after'), await r.text()] as const),
      ),
    );
    const stats = await bridgeStats();
    console.warn(`blocked tenant: ${statuses.length} requests answered 429, Redis round trips: ${stats.httpRequests}, commands: ${stats.redisCommands}`);
    expect(statuses.every(([s, retry]) => s === 429 && Number(retry) > 0)).toBe(true);
    expect(stats.httpRequests).toBe(0);
  });
});

describe('miss path cost', () => {
  it('makes no rate-limit command for a warm tenant’s cache-eligible miss: the leases admit it, the L2 lookup is the only round trip before the backend', async () => {
    // Its own gate with a long idle period, so no lease goes back while the bridge counts; the usage
    // ledger off, so no usage batch (the earlier request's, landing up to a second later) is counted either.
    const leased = createApp({ quotaGate: new QuotaGate({ lease: { idleMs: 60_000 } }) });
    const quiet = { ...patient, USAGE_LEDGER: 'off' };
    const send = (key: string, prompt: string) =>
      leased.request(
        `${BASE}/v1/infer`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, prompt, params: { temperature: 0, max_tokens: 4 } }),
        },
        quiet,
        createExecutionContext(),
      );
    const { key } = await seedTenantKey();
    // The first request warms the key cache and takes the leases.
    expect((await send(key, `warm the key cache ${crypto.randomUUID()}`)).status).toBe(200);
    // Earlier tests' usage records reach the store in queue batches up to a second later.
    await new Promise((r) => setTimeout(r, 1_500));
    await bridgeQuiet();
    await resetBridgeStats();
    const res = await send(key, `count me ${crypto.randomUUID()}`);
    expect(res.headers.get('x-cache')).toBe('MISS');
    await res.text();
    await bridgeQuiet();
    const after = await bridgeStats();
    console.warn(
      `warm miss: ${after.httpRequests} store round trips in all (critical path: the L2 GETEX; background: the cache SET), commands ${JSON.stringify(after.commandsByName)}`,
    );
    expect(after.commandsByName.evalsha ?? 0).toBe(0);
    expect(after.commandsByName.eval ?? 0).toBe(0);
    expect(after.commandsByName.getex).toBe(1);
    expect(after.httpRequests).toBe(2);
  });
});
