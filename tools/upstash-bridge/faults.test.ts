/**
 * The bridge's fault knobs at `/admin/config`, with the real @upstash/redis client against real
 * Redis: the token is required, bad bodies are refused naming the field, `latencyMs` delays every
 * Redis request (not the admin ones) and the command still runs, `fault: "unavailable"` answers 503
 * and runs nothing, `fault: "reset"` drops the connection, and clearing a knob restores service.
 */
import { errors } from '@upstash/redis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestBridge, type TestBridge } from './testing';

const { UpstashError } = errors;

let tb: TestBridge;

beforeAll(async () => {
  tb = await startTestBridge();
});

afterAll(async () => {
  await tb?.close();
});

afterEach(async () => {
  tb.bridge.setFaults({ latencyMs: 0, fault: null });
  tb.bridge.resetStats();
});

const putConfig = (body: unknown, headers: Record<string, string> = {}) =>
  tb.fetch('/admin/config', {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

/** Runs `work` and returns how long it took, ms. */
async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

describe('/admin/config', () => {
  it.each([
    ['no token', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
  ])('refuses %s with 401 and changes nothing', async (_label, headers) => {
    const put = await fetch(`${tb.bridge.url}/admin/config`, { method: 'PUT', headers, body: JSON.stringify({ fault: 'unavailable' }) });
    expect(put.status).toBe(401);
    const get = await fetch(`${tb.bridge.url}/admin/config`, { headers });
    expect(get.status).toBe(401);
    expect(tb.bridge.faults()).toEqual({ latencyMs: 0, fault: null });
    expect(await tb.client().ping()).toBe('PONG');
  });

  it('answers the knobs, applies a partial update and keeps the other field', async () => {
    expect(await (await tb.fetch('/admin/config')).json()).toEqual({ latencyMs: 0, fault: null });
    const first = await putConfig({ latencyMs: 25 });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ latencyMs: 25, fault: null });
    expect(await (await putConfig({ fault: 'reset' })).json()).toEqual({ latencyMs: 25, fault: 'reset' });
    expect(await (await tb.fetch('/admin/config')).json()).toEqual({ latencyMs: 25, fault: 'reset' });
    expect(await (await putConfig({ latencyMs: 0, fault: null })).json()).toEqual({ latencyMs: 0, fault: null });
  });

  it.each([
    ['a negative latency', { latencyMs: -1 }, 'latencyMs'],
    ['a latency as a string', { latencyMs: '5000' }, 'latencyMs'],
    ['a fractional latency', { latencyMs: 1.5 }, 'latencyMs'],
    ['a latency beyond 600 s', { latencyMs: 600_001 }, 'latencyMs'],
    ['an unknown fault', { fault: 'down' }, 'fault'],
    ['a fault given as true', { fault: true }, 'fault'],
    ['an unknown field', { latency: 5 }, 'latency'],
    ['an array body', [1], '(body)'],
    ['a null body', null, '(body)'],
  ])('refuses %s with 400 naming the field', async (_label, body, field) => {
    const res = await putConfig(body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { error: string; field: string };
    expect(answer.field).toBe(field);
    expect(answer.error).toContain(`${field}:`);
    expect(tb.bridge.faults()).toEqual({ latencyMs: 0, fault: null });
  });

  it('refuses malformed JSON with 400 and an unknown admin path with 404', async () => {
    const res = await putConfig('{"fault":');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/invalid JSON/);
    expect((await tb.fetch('/admin/other')).status).toBe(404);
    expect((await tb.fetch('/admin/config', { method: 'POST', body: '{}' })).status).toBe(405);
  });
});

describe('latencyMs', () => {
  it('delays every Redis request by at least the latency, runs the command, and leaves admin requests alone', async () => {
    const redis = tb.client();
    const key = tb.key('latency:k');
    const baseline = await timed(() => redis.set(key, 'fast'));
    expect(baseline.value).toBe('OK');
    // Long enough that an undelayed request stays well below it on a loaded machine.
    await putConfig({ latencyMs: 1_000 });
    const slow = await timed(() => redis.set(key, 'slow'));
    const piped = await timed(() => redis.pipeline().get(key).incr(tb.key('latency:n')).exec());
    const admin = await timed(() => tb.fetch('/admin/config').then((r) => r.json()));
    const stats = await timed(() => tb.fetch('/_bridge/stats').then((r) => r.json()));
    console.warn(
      `bridge latency 1000 ms: set ${baseline.ms.toFixed(0)} ms before, ${slow.ms.toFixed(0)} ms after; pipeline ${piped.ms.toFixed(0)} ms; admin ${admin.ms.toFixed(0)} ms; stats ${stats.ms.toFixed(0)} ms`,
    );
    expect(slow.value).toBe('OK');
    expect(slow.ms).toBeGreaterThanOrEqual(995);
    expect(piped.value).toEqual(['slow', 1]);
    expect(piped.ms).toBeGreaterThanOrEqual(995);
    expect(admin.ms).toBeLessThan(500);
    expect(stats.ms).toBeLessThan(500);
    expect(await tb.direct.get(key)).toBe('slow');
    await putConfig({ latencyMs: 0 });
    expect((await timed(() => redis.get(key))).ms).toBeLessThan(500);
  });

  it('stalls a request as long as the latency even when the client gives up, and still runs it (a stalled primary)', async () => {
    const key = tb.key('latency:late');
    await putConfig({ latencyMs: 2_000 });
    const started = performance.now();
    const aborted = tb.fetch('/', { method: 'POST', body: JSON.stringify(['set', key, 'late']), signal: AbortSignal.timeout(100) });
    await expect(aborted).rejects.toThrow();
    expect(await tb.direct.get(key)).toBeNull();
    // Polled, not a fixed wait: the command lands once the latency has passed, however late that is seen.
    await vi.waitUntil(async () => (await tb.direct.get(key)) === 'late', { timeout: 10_000, interval: 50 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_995);
  });
});

describe('fault: "unavailable"', () => {
  it('answers 503 with an Upstash error body, runs nothing, and serves again once cleared', async () => {
    const redis = tb.client();
    const key = tb.key('unavailable:k');
    await putConfig({ fault: 'unavailable' });
    const raw = await tb.fetch('/', { method: 'POST', body: JSON.stringify(['set', key, 'x']) });
    expect(raw.status).toBe(503);
    expect(((await raw.json()) as { error: string }).error).toMatch(/unavailable/);
    const failed = await redis.set(key, 'x').catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(UpstashError);
    expect((failed as Error).message).toMatch(/unavailable/);
    await expect(redis.pipeline().set(key, 'y').get(key).exec()).rejects.toThrow(/unavailable/);
    expect(await tb.direct.exists(key)).toBe(0);
    expect(tb.bridge.stats().redisCommands).toBe(0);
    await putConfig({ fault: null });
    expect(await redis.set(key, 'back')).toBe('OK');
    expect(await tb.direct.get(key)).toBe('back');
  });
});

describe('fault: "reset"', () => {
  it('drops the connection without an answer, runs nothing, and serves again once cleared', async () => {
    const redis = tb.client();
    const key = tb.key('reset:k');
    await putConfig({ fault: 'reset' });
    const raw = await tb.fetch('/', { method: 'POST', body: JSON.stringify(['set', key, 'x']) }).catch((err: unknown) => err);
    expect(raw).toBeInstanceOf(TypeError);
    const cause = (raw as TypeError & { cause?: { code?: string; message?: string } }).cause;
    console.warn(`bridge reset: fetch failed with ${cause?.code ?? cause?.message ?? String(raw)}`);
    const failed = await redis.get(key).catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(Error);
    expect(failed).not.toBeInstanceOf(UpstashError);
    expect(await tb.direct.exists(key)).toBe(0);
    expect(tb.bridge.stats().redisCommands).toBe(0);
    await putConfig({ fault: null });
    expect(await redis.set(key, 'back')).toBe('OK');
    expect(await tb.direct.get(key)).toBe('back');
  });

  it('drops a request that was stalling when the fault was set', async () => {
    const key = tb.key('reset:stalled');
    await putConfig({ latencyMs: 300 });
    const stalled = tb.fetch('/', { method: 'POST', body: JSON.stringify(['set', key, 'x']) }).catch((err: unknown) => err);
    await putConfig({ fault: 'reset' });
    expect(await stalled).toBeInstanceOf(TypeError);
    expect(await tb.direct.exists(key)).toBe(0);
  });
});
