/**
 * Server-Timing through the worker in workerd against the real stack: every phase that ran appears
 * once with a duration that fits the request (the model server's time to first token bounds
 * `upstream` from below, `total` bounds every phase from above), on a miss, a hit, a stream (set
 * with the headers, before the first token) and errors.
 */
import { createExecutionContext, env, SELF } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../app';
import type { Bindings } from '../env';
import { IsolateMetrics } from '../services/metrics';
import { BackendHealth } from '../services/routing/health';
import { BASE, modelConfig, modelReset, modelStats, post } from '../testing/gateway-client';
import { withinOneMinute } from '../testing/minute';
import { seedTenantKey } from '../testing/seed';

const model = inject('model');
const unique = (label: string) => `${label} ${crypto.randomUUID()}`;

interface Phase {
  readonly dur: number;
  readonly desc?: string;
}

/** The header as phases by name; every entry must have a numeric `dur`. */
function phases(res: Response): Record<string, Phase> {
  const header = res.headers.get('server-timing');
  expect(header).toBeTruthy();
  const out: Record<string, Phase> = {};
  for (const entry of header!.split(', ')) {
    const [name, ...params] = entry.split(';');
    const fields = Object.fromEntries(params.map((p) => p.split('=') as [string, string]));
    expect(name! in out, `${name} appears once`).toBe(false);
    expect(fields.dur).toMatch(/^\d+(\.\d)?$/);
    out[name!] = { dur: Number(fields.dur), ...(fields.desc ? { desc: JSON.parse(fields.desc) as string } : {}) };
  }
  return out;
}

/** Every phase lies within `total`, and `total` within what the client measured. */
function expectSane(p: Record<string, Phase>, clientMs: number) {
  expect(p.total).toBeDefined();
  for (const [name, phase] of Object.entries(p)) expect(phase.dur, name).toBeLessThanOrEqual(p.total!.dur);
  expect(p.total!.dur).toBeLessThanOrEqual(clientMs + 1);
}

const isolated = createApp({ health: new BackendHealth(), metrics: new IsolateMetrics() });
const isolatedPost = (key: string, body: unknown) =>
  isolated.request(
    '/v1/infer',
    { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) },
    env as unknown as Bindings,
    createExecutionContext(),
  );

afterEach(async () => {
  await modelReset();
});

describe('Server-Timing', () => {
  it('names auth, limits, cache MISS, upstream and total on a miss, and cache L0 without upstream on the repeat', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ ttftMs: 80 });
    const body = { model, prompt: unique('timing'), params: { temperature: 0, max_tokens: 4 } };
    let started = Date.now();
    const miss = await post('/v1/infer', key, body);
    await miss.text();
    const missMs = Date.now() - started;
    const m = phases(miss);
    console.warn(`miss (model ttft 80 ms, client saw ${missMs} ms): ${miss.headers.get('server-timing')}`);
    expect(Object.keys(m)).toEqual(['auth', 'limits', 'cache', 'upstream', 'total']);
    // A new tenant's first request: its isolate holds no lease yet, so the store decided it.
    expect(m.limits!.desc).toBe('store');
    expect(m.cache!.desc).toBe('MISS');
    expect(m.upstream!.dur).toBeGreaterThanOrEqual(75);
    expect(m.total!.dur).toBeGreaterThanOrEqual(m.upstream!.dur);
    expectSane(m, missMs);

    started = Date.now();
    const hit = await post('/v1/infer', key, body);
    await hit.text();
    const h = phases(hit);
    console.warn(`hit: ${hit.headers.get('server-timing')}`);
    expect(Object.keys(h)).toEqual(['auth', 'limits', 'cache', 'total']);
    // The first request's lease took a few requests' worth: this one was admitted from it.
    expect(h.limits!.desc).toBe('lease');
    expect(h.cache).toEqual({ dur: 0, desc: 'L0' });
    expectSane(h, Date.now() - started);
  });

  it('sets the header on a stream before its first byte: upstream is the time to the first event, total the time to the headers', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ ttftMs: 120, perTokenMs: 60 });
    const { streamsCompleted } = await modelStats();
    const started = Date.now();
    const res = await post('/v1/infer/stream', key, { model, prompt: unique('timing stream'), params: { temperature: 0, max_tokens: 16 } });
    const headersMs = Date.now() - started;
    // Causal, not a stopwatch (a loaded machine delays the headers and shrinks the gap to the end):
    // the headers are in hand while the model has not finished the stream.
    const completedAtHeaders = (await modelStats()).streamsCompleted - streamsCompleted;
    const p = phases(res);
    await res.text();
    const streamMs = Date.now() - started;
    console.warn(`stream (ttft 120 ms, 60 ms/token; headers after ${headersMs} ms, end after ${streamMs} ms): ${res.headers.get('server-timing')}`);
    expect(Object.keys(p)).toEqual(['auth', 'limits', 'cache', 'upstream', 'total']);
    expect(p.upstream!.dur).toBeGreaterThanOrEqual(115);
    expect(p.total!.dur).toBeLessThanOrEqual(headersMs + 1);
    // The rest of the stream (15 tokens × 60 ms) is not in `total`: it was taken before the headers came, and they came before the end.
    expect(completedAtHeaders).toBe(0);
    expect(streamMs).toBeGreaterThanOrEqual(120 + 15 * 60 - 5);
    expectSane(p, headersMs);
  });

  it('is on error answers too: an upstream failure, a refused key, a rate-limited tenant, /health', { timeout: 60_000 }, async () => {
    const { key } = await seedTenantKey({ overrides: { requestsPerMinute: 1 } });
    await modelConfig({ forcedStatus: 503, ttftMs: 30 });
    // The failed call retries for about 2 s: both requests must fall in one minute window of the limit of 1.
    await withinOneMinute(15_000);
    let started = Date.now();
    // An app with breakers of its own: the failures must not open the shared worker's circuit.
    const failed = await isolatedPost(key, { model, prompt: unique('timing error'), params: { max_tokens: 4 } });
    await failed.text();
    expect(failed.status).toBe(503);
    const f = phases(failed);
    console.warn(`upstream failure: ${failed.headers.get('server-timing')}`);
    expect(Object.keys(f)).toEqual(['auth', 'limits', 'cache', 'upstream', 'total']);
    expect(f.cache!.desc).toBe('BYPASS');
    expect(f.upstream!.dur).toBeGreaterThanOrEqual(25);
    expectSane(f, Date.now() - started);

    started = Date.now();
    const limited = await isolatedPost(key, { model, prompt: unique('timing limited'), params: { max_tokens: 4 } });
    await limited.text();
    expect(limited.status).toBe(429);
    const l = phases(limited);
    console.warn(`rate limited: ${limited.headers.get('server-timing')}`);
    expect(Object.keys(l)).toEqual(['auth', 'limits', 'total']);
    expectSane(l, Date.now() - started);

    const refused = await post('/v1/infer', 'gw_test_not-a-real-key', { model, prompt: 'x' }, { 'cf-connecting-ip': '2001:db8::5e' });
    await refused.text();
    expect(refused.status).toBe(401);
    expect(Object.keys(phases(refused))).toEqual(['auth', 'total']);

    const health = await SELF.fetch(`${BASE}/health`);
    await health.text();
    expect(Object.keys(phases(health))).toEqual(['total']);
  });
});
