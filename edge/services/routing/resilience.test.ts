/**
 * Resilience against the real local stack (workerd → Lambda host with SigV4 → adapters → reference
 * model server), one fault at a time: a backend that refuses connections, one slower than the
 * tier's deadline, a 5xx burst that opens the breaker until a half-open probe closes it, 429/503
 * with Retry-After, and a scaled-to-zero backend that is woken once, not by every request.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorEnvelopeSchema } from '../../../shared/errors';
import { sseMessages } from '../../testing/gateway-client';
import { seedTenantKey } from '../../testing/seed';
import {
  counted,
  dead,
  FAULT_MODEL,
  ecs,
  ECS_MODEL_ID,
  endpointStats,
  faults,
  gateway,
  resetModelServer,
  sm,
  SM_ENDPOINT,
  tableFor,
  unique,
} from '../../testing/routes';

const infer = { prompt: 'resilience', params: { max_tokens: 4 } };
const envelope = async (res: Response) => ErrorEnvelopeSchema.parse(await res.json()).error;

afterEach(async () => {
  await resetModelServer();
});

describe('backend down (connection refused)', () => {
  it('retries, then falls back and serves, with the attempts in X-Attempts', async () => {
    const { key } = await seedTenantKey({ plan: 'enterprise' });
    const fallback = ecs();
    const gw = gateway(tableFor({ backends: [dead()], fallbacks: [fallback] }));
    const { res, ms } = await gw.send(key, '/v1/infer', infer);
    console.warn(`dead primary: ${res.status} from ${res.headers.get('x-backend')} after ${res.headers.get('x-attempts')} attempts in ${ms} ms`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-backend')).toBe(fallback.name);
    expect(res.headers.get('x-attempts')).toBe('4');
    expect(((await res.json()) as { output: string }).output.length).toBeGreaterThan(0);
    expect(ms).toBeLessThan(5_000);
    expect(counted(gw.metrics.drain(), 'BackendRetries')).toBe(2);
  });

  it('answers 503 UPSTREAM_ERROR with Retry-After when no fallback is left', async () => {
    const { key } = await seedTenantKey({ plan: 'enterprise' });
    const down = dead();
    const gw = gateway(tableFor({ backends: [down] }));
    const { res, ms } = await gw.send(key, '/v1/infer', infer);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await envelope(res)).toMatchObject({ code: 'UPSTREAM_ERROR', details: { reason: 'unreachable' } });
    expect(ms).toBeLessThan(5_000);
    // Each request counts once toward the breaker, however many retries it made: open after the 5th.
    for (let i = 2; i <= 4; i++) await gw.send(key, '/v1/infer', infer);
    expect(gw.health.state(`${down.name}|${FAULT_MODEL}`)).toBe('closed');
    await gw.send(key, '/v1/infer', infer);
    expect(gw.health.state(`${down.name}|${FAULT_MODEL}`)).toBe('open');
  });
});

describe('slow beyond the deadline', () => {
  it('answers 504 TIMEOUT once the vip deadline (5 s) passed, well before the standard one (30 s)', async () => {
    await faults({ endpoints: { [SM_ENDPOINT]: { ttftMs: 12_000 } } });
    const { key } = await seedTenantKey({ plan: 'enterprise' });
    const gw = gateway(tableFor({ backends: [sm()] }));
    for (const path of ['/v1/infer', '/v1/infer/stream']) {
      const { res, ms } = await gw.send(key, path, infer);
      console.warn(`${path}: ${res.status} after ${ms} ms (deadline 5000 ms)`);
      expect(res.status).toBe(504);
      expect(await envelope(res)).toMatchObject({ code: 'TIMEOUT', details: { reason: 'deadline', deadline_ms: 5_000 } });
      expect(ms).toBeGreaterThanOrEqual(5_000);
      expect(ms).toBeLessThan(12_000);
    }
  }, 40_000);
});

describe('a stream that pauses between tokens', () => {
  it('is cut with TIMEOUT after one gap longer than the tier timeout, however long the shorter gaps before it add up to', async () => {
    const { key } = await seedTenantKey({ plan: 'enterprise' });
    const gw = gateway(tableFor({ backends: [sm(undefined, { timeouts: { vip: 1_000, standard: 1_000, low: 1_000 } })] }));
    // Eight gaps of 300 ms (2.4 s in all, over twice the timeout): each wait is short, the stream completes.
    await faults({ endpoints: { [SM_ENDPOINT]: { ttftMs: 0, perTokenMs: 300 } } });
    const steady = await gw.send(key, '/v1/infer/stream', { prompt: unique('short gaps'), params: { max_tokens: 8 } });
    const steadyEvents = await sseMessages(steady.res);
    expect(steadyEvents.filter((m) => m.event === 'token').length).toBeGreaterThanOrEqual(8);
    expect(steadyEvents.at(-1)?.event).toBe('done');
    // One gap of 4 s after the first token: cut about 1 s into it, with the tier timeout's error event.
    await faults({ endpoints: { [SM_ENDPOINT]: { ttftMs: 0, perTokenMs: 4_000 } } });
    const started = Date.now();
    const stalled = await gw.send(key, '/v1/infer/stream', { prompt: unique('long gap'), params: { max_tokens: 4 } });
    expect(stalled.res.status).toBe(200);
    const events = await sseMessages(stalled.res);
    const ms = Date.now() - started;
    console.warn(`stalled stream: ${events.map((m) => m.event).join(',')} after ${ms} ms (tier timeout 1000 ms, gap 4000 ms)`);
    expect(events.filter((m) => m.event === 'token')).toHaveLength(1);
    expect(events.at(-1)?.event).toBe('error');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining('sent nothing for 1000 ms') });
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(3_500);
  }, 30_000);
});

describe('5xx burst', () => {
  it('opens the breaker after 5 failures, serves from the fallback, half-opens after 60 s and recovers', async () => {
    await faults({ endpoints: { [SM_ENDPOINT]: { forcedStatus: 500 } } });
    const { key } = await seedTenantKey();
    const primary = sm();
    const fallback = ecs();
    const gw = gateway(tableFor({ backends: [primary], fallbacks: [fallback] }));
    const before = await endpointStats(SM_ENDPOINT);
    for (let i = 1; i <= 5; i++) {
      const { res } = await gw.send(key, '/v1/infer', infer);
      expect([res.status, res.headers.get('x-backend'), res.headers.get('x-attempts')]).toEqual([200, fallback.name, '2']);
    }
    // Open: the primary is skipped without a call.
    const open = await gw.send(key, '/v1/infer', infer);
    expect([open.res.status, open.res.headers.get('x-backend'), open.res.headers.get('x-attempts')]).toEqual([200, fallback.name, '1']);
    expect((await endpointStats(SM_ENDPOINT)).invocations - before.invocations).toBe(5);
    // Still open at 59 s; after 60 s a single probe goes to the (recovered) primary and closes the breaker.
    await faults({ endpoints: { [SM_ENDPOINT]: null } });
    gw.advance(59_000);
    expect((await gw.send(key, '/v1/infer', infer)).res.headers.get('x-backend')).toBe(fallback.name);
    gw.advance(1_000);
    const probe = await gw.send(key, '/v1/infer', infer);
    expect([probe.res.status, probe.res.headers.get('x-backend')]).toEqual([200, primary.name]);
    expect((await gw.send(key, '/v1/infer', infer)).res.headers.get('x-backend')).toBe(primary.name);
    const series = gw.metrics.drain();
    const transitions = ['open', 'half-open', 'closed'].map((state) => counted(series, 'BreakerTransitions', { Backend: primary.name, State: state }));
    console.warn(`breaker transitions open/half-open/closed: ${transitions.join('/')}`);
    expect(transitions).toEqual([1, 1, 1]);
  });

  it('answers 503 with Retry-After when the breaker is open and no fallback is left; a 400 never opens it', async () => {
    const { key } = await seedTenantKey();
    const primary = sm();
    const gw = gateway(tableFor({ backends: [primary] }));
    await faults({ endpoints: { [SM_ENDPOINT]: { forcedStatus: 400 } } });
    for (let i = 0; i < 6; i++) {
      const { res } = await gw.send(key, '/v1/infer', infer);
      expect(res.status).toBe(400);
      expect(await envelope(res)).toMatchObject({ code: 'INVALID_INPUT' });
    }
    await faults({ endpoints: { [SM_ENDPOINT]: null } });
    expect((await gw.send(key, '/v1/infer', infer)).res.status).toBe(200);
    await faults({ endpoints: { [SM_ENDPOINT]: { forcedStatus: 500 } } });
    for (let i = 0; i < 5; i++) expect((await gw.send(key, '/v1/infer', infer)).res.status).toBe(502);
    const { res } = await gw.send(key, '/v1/infer', infer);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(50);
    expect(await envelope(res)).toMatchObject({ code: 'UPSTREAM_ERROR', details: { reason: 'circuit_open' } });
  });
});

describe('429 / 503 with Retry-After', () => {
  it('retries a 429 after its Retry-After, then passes the 429 and Retry-After through', async () => {
    await faults({ endpoints: { [SM_ENDPOINT]: { forcedStatus: 429, retryAfterSeconds: 1 } } });
    const { key } = await seedTenantKey({ plan: 'enterprise' });
    const before = await endpointStats(SM_ENDPOINT);
    const { res, ms } = await gateway(tableFor({ backends: [sm()] })).send(key, '/v1/infer', infer);
    const calls = (await endpointStats(SM_ENDPOINT)).invocations - before.invocations;
    console.warn(`429: ${calls} calls in ${ms} ms`);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await envelope(res)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(calls).toBe(3);
    expect(ms).toBeGreaterThanOrEqual(2_000);
  });

  it('retries a 503 from the ECS service, then falls back; without a fallback the 503 keeps its Retry-After', async () => {
    await faults({ endpoints: { [ECS_MODEL_ID]: { forcedStatus: 503, retryAfterSeconds: 1 } } });
    const { key } = await seedTenantKey();
    const primary = ecs();
    const fallback = sm();
    const served = await gateway(tableFor({ backends: [primary], fallbacks: [fallback] })).send(key, '/v1/infer', infer);
    console.warn(`503 primary: served by ${served.res.headers.get('x-backend')} after ${served.res.headers.get('x-attempts')} attempts, ${served.ms} ms`);
    expect(served.res.status).toBe(200);
    expect(served.res.headers.get('x-backend')).toBe(fallback.name);
    const alone = await gateway(tableFor({ backends: [ecs()] })).send(key, '/v1/infer', infer);
    expect(alone.res.status).toBe(503);
    expect(alone.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await envelope(alone.res)).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(alone.ms).toBeGreaterThanOrEqual(1_000);
  });
});

describe('warming (scaled to zero)', () => {
  it('answers 503 with Retry-After and wakes the endpoint once, not per request; then serves', async () => {
    await faults({ endpoints: { [SM_ENDPOINT]: { warmingForMs: 2_500 } } });
    const { key } = await seedTenantKey();
    const gw = gateway(tableFor({ backends: [sm()] }));
    const before = await endpointStats(SM_ENDPOINT);
    for (let i = 0; i < 4; i++) {
      const { res } = await gw.send(key, '/v1/infer', infer);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await envelope(res)).toMatchObject({ code: 'UPSTREAM_ERROR', details: { reason: 'no_capacity' } });
    }
    const calls = (await endpointStats(SM_ENDPOINT)).invocations - before.invocations;
    console.warn(`warming: 4 requests, ${calls} call(s) to the endpoint`);
    expect(calls).toBe(1);
    await new Promise((r) => setTimeout(r, 3_000));
    gw.sync();
    expect((await gw.send(key, '/v1/infer', infer)).res.status).toBe(200);
  });

  it('serves from the fallback while the primary warms', async () => {
    await faults({ endpoints: { [SM_ENDPOINT]: { warmingForMs: 10_000 } } });
    const { key } = await seedTenantKey();
    const fallback = ecs();
    const gw = gateway(tableFor({ backends: [sm()], fallbacks: [fallback] }));
    const before = await endpointStats(SM_ENDPOINT);
    for (let i = 0; i < 3; i++) {
      const { res } = await gw.send(key, '/v1/infer', infer);
      expect([res.status, res.headers.get('x-backend')]).toEqual([200, fallback.name]);
    }
    expect((await endpointStats(SM_ENDPOINT)).invocations - before.invocations).toBe(1);
  });
});
