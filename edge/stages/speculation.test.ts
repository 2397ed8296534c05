/**
 * A miss's backend call started beside its L1/L2 read (services/cache/speculation.ts), through the
 * worker in workerd against the real stack: the outage bridge (the stack's Redis) holds L2, and its
 * latency knob puts the store far away. A speculating isolate's lookup history is a real LookupHitRatio fed
 * with MIN_LOOKUPS misses (an isolate whose lookups rarely hit); the others have seen none.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../app';
import type { Bindings } from '../env';
import { IsolateMetrics } from '../services/metrics';
import { QuotaGate } from '../services/limits/gate';
import { LookupHitRatio, MIN_LOOKUPS } from '../services/cache/speculation';
import { BASE, eventually, type ModelCounters, modelConfig, modelReset, modelStats, sseMessages } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';
import { clearStoreFaults, outageBindings, setStoreFaults } from '../testing/store-faults';

const model = inject('model');
const STORE_MS = 400;
/** The model's time to first token while a hit races it: far longer than the store's latency. */
const SLOW_MODEL_MS = 3_000;

afterEach(async () => {
  await clearStoreFaults();
  await modelReset();
});

/**
 * An isolate of the worker on the outage bridge; `speculating` gives it a history of misses. Its
 * quota leases stay for a minute when idle, so a request after the warm-up is admitted without the
 * store (the idle return would otherwise give them back while the test waits on a request's
 * background work); only the fresh isolates that prime an entry wait for it.
 */
function isolate(mode: 'speculating' | 'waiting' | 'priming') {
  const lookups = new LookupHitRatio();
  if (mode === 'speculating') for (let i = 0; i < MIN_LOOKUPS; i++) lookups.record(false);
  const metrics = new IsolateMetrics();
  const priming = mode === 'priming';
  const app = createApp({ metrics, lookups, ...(priming ? {} : { quotaGate: new QuotaGate({ lease: { idleMs: 60_000 } }) }) });
  const bindings = outageBindings() as unknown as Bindings;
  return {
    metrics,
    async send(key: string, path: string, body: unknown) {
      const ctx = createExecutionContext();
      const started = Date.now();
      const res = await app.request(
        `${BASE}${path}`,
        { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) },
        bindings,
        ctx,
      );
      const text = await res.text();
      const ms = Date.now() - started;
      if (priming) await waitOnExecutionContext(ctx);
      return { status: res.status, headers: res.headers, text, ms, tier: `${res.headers.get('x-cache')} ${res.headers.get('x-cache-tier') ?? ''}`.trim() };
    },
  };
}

/**
 * A tenant with `path`'s answer to a fresh prompt in L2 (primed by a non-speculating isolate), and a
 * speculating isolate that has its key and quota leases already (one warm-up miss).
 */
async function primedEntry(path: string, label: string) {
  const { key } = await seedTenantKey();
  const prompt = body(label);
  const primed = await isolate('priming').send(key, path, prompt);
  expect(primed.tier).toBe('MISS');
  const speculating = isolate('speculating');
  expect((await speculating.send(key, '/v1/infer', body('warm'))).tier).toBe('MISS');
  return { key, prompt, primed, speculating };
}

/** The store far and the model slow: a lookup lands after the call has started, long before the model's answer. Returns the model's counters before. */
async function storeAndModelSlow() {
  await setStoreFaults({ latencyMs: STORE_MS });
  await modelConfig({ ttftMs: SLOW_MODEL_MS });
  return modelStats();
}

/** The call had started, and its cancellation reached the model server. */
async function expectOneCancelledCall(before: ModelCounters) {
  const after = await eventually(modelStats, (s) => s.cancelled > before.cancelled);
  expect(after.invocations).toBe(before.invocations + 1);
  expect(after.cancelled).toBe(before.cancelled + 1);
}

const body = (prompt: string) => ({ model, prompt: `${prompt} ${crypto.randomUUID()}`, params: { temperature: 0, max_tokens: 6 } });
const output = (text: string) => (JSON.parse(text) as { output: string }).output;

describe('speculative backend call beside the lookup', () => {
  it('with the store 400 ms away, a miss answers in the backend time where the lookups rarely hit, and after the store elsewhere', async () => {
    const { key } = await seedTenantKey();
    const speculating = isolate('speculating');
    const waiting = isolate('waiting');
    // Each isolate's key lookup and first quota lease come from the store while it is near.
    expect((await speculating.send(key, '/v1/infer', body('warm'))).status).toBe(200);
    expect((await waiting.send(key, '/v1/infer', body('warm'))).status).toBe(200);
    await setStoreFaults({ latencyMs: STORE_MS });

    const raced = await speculating.send(key, '/v1/infer', body('raced'));
    const waited = await waiting.send(key, '/v1/infer', body('waited'));
    expect([raced.status, raced.tier, waited.status, waited.tier]).toEqual([200, 'MISS', 200, 'MISS']);
    expect(waited.ms).toBeGreaterThanOrEqual(STORE_MS);
    expect(raced.ms).toBeLessThan(STORE_MS);
    // The backend's answer is stored like any miss's (the write leaves right after the answer): another isolate finds it in L2.
    await clearStoreFaults();
    const prompt = body('stored');
    const first = await speculating.send(key, '/v1/infer', prompt);
    await new Promise((r) => setTimeout(r, 1_000));
    const again = await isolate('priming').send(key, '/v1/infer', prompt);
    expect([first.tier, again.tier]).toEqual(['MISS', 'HIT L2']);
    expect(output(again.text)).toBe(output(first.text));
  });

  it('serves an L2 hit that lands before the backend answers, and cancels the call at the model server', async () => {
    const { key, prompt, primed, speculating } = await primedEntry('/v1/infer', 'cached');
    speculating.metrics.drain();
    const before = await storeAndModelSlow();

    const hit = await speculating.send(key, '/v1/infer', prompt);
    expect([hit.status, hit.tier]).toEqual([200, 'HIT L2']);
    expect(output(hit.text)).toBe(output(primed.text));
    expect(hit.ms).toBeLessThan(SLOW_MODEL_MS);
    await expectOneCancelledCall(before);
    // The hit is counted as one, not as a miss, and is in L0 now.
    const counted = speculating.metrics.drain().filter((s) => s.metric === 'CacheHits' || s.metric === 'CacheMisses');
    expect(counted.map((s) => `${s.metric} ${s.dimensions.Tier ?? ''}`.trim())).toEqual(['CacheHits L2']);
    expect((await speculating.send(key, '/v1/infer', prompt)).tier).toBe('HIT L0');
  });

  it('replays a stream from an L2 hit that wins, with the live answer’s tokens, and cancels the call', async () => {
    const { key, prompt, primed, speculating } = await primedEntry('/v1/infer/stream', 'streamed');
    const before = await storeAndModelSlow();
    const replay = await speculating.send(key, '/v1/infer/stream', prompt);
    expect([replay.status, replay.tier]).toEqual([200, 'HIT L2']);
    expect(replay.ms).toBeLessThan(SLOW_MODEL_MS);
    const tokens = async (text: string) =>
      (await sseMessages(new Response(text))).filter((m) => m.event === 'token').map((m) => (JSON.parse(m.data) as { text: string }).text);
    const replayed = await tokens(replay.text);
    expect(replayed.length).toBeGreaterThan(1);
    expect(replayed).toEqual(await tokens(primed.text));
    await expectOneCancelledCall(before);
  });

  it('reads L1 when the store fails: an entry promoted there still answers and cancels the call', async () => {
    const { key, prompt, primed, speculating } = await primedEntry('/v1/infer', 'promoted');
    // Its second sighting (an L2 hit in another isolate) puts the entry in L1.
    expect((await isolate('priming').send(key, '/v1/infer', prompt)).tier).toBe('HIT L2');
    await setStoreFaults({ fault: 'unavailable' });
    await modelConfig({ ttftMs: SLOW_MODEL_MS });
    const before = await modelStats();
    const hit = await speculating.send(key, '/v1/infer', prompt);
    expect([hit.status, hit.tier]).toEqual([200, 'HIT L1']);
    expect(output(hit.text)).toBe(output(primed.text));
    expect(hit.ms).toBeLessThan(SLOW_MODEL_MS);
    await expectOneCancelledCall(before);
  });

  it('still answers from L2 when the backend call fails before the lookup lands', async () => {
    const { key, prompt, primed, speculating } = await primedEntry('/v1/infer', 'failing backend');
    await modelConfig({ forcedStatus: 400 });
    expect((await speculating.send(key, '/v1/infer', body('fails'))).status).toBe(400);
    await setStoreFaults({ latencyMs: STORE_MS });
    const before = await modelStats();
    const answer = await speculating.send(key, '/v1/infer', prompt);
    expect([answer.status, answer.tier]).toEqual([200, 'HIT L2']);
    expect(output(answer.text)).toBe(output(primed.text));
    // The call was made and failed before the lookup answered.
    const after = await modelStats();
    expect([after.invocations, after.failed]).toEqual([before.invocations + 1, before.failed + 1]);
  });
});
