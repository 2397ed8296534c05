/**
 * L0, the response cache in the isolate's memory: its byte budget and LRU order as a unit, then
 * through the worker in workerd against the real stack — a repeated deterministic request answered
 * with no cache command at the store bridge and no model call, the budget under many entries, the
 * entry's TTL to the millisecond (also after a promotion from L2), and no cross-tenant hit.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { createApp } from '../../app';
import type { Bindings } from '../../env';
import { bridgeQuiet, bridgeStats, modelStats, resetBridgeStats } from '../../testing/gateway-client';
import { seedTenantKey } from '../../testing/seed';
import { QuotaGate } from '../limits/gate';
import { IsolateMetrics } from '../metrics';
import { TenantDirectory } from '../tenant-directory';
import type { CacheEntry } from './entry';
import { MemoryTier } from './memory-tier';

const model = inject('model');
const unique = (label: string) => `${label} ${crypto.randomUUID()}`;

const entryOf = (text: string, expiresAt: number): CacheEntry => ({
  v: 1,
  chunks: [text],
  usage: { prompt_tokens: 1, completion_tokens: 1 },
  modelLatencyMs: 1,
  expiresAt,
});

/** Isolates of the worker sharing one injectable clock; each has its own L0 (and the location's L1). */
function location(vars: Partial<Bindings> = {}) {
  let now = Date.now();
  const clock = () => now;
  const bindings = { ...(env as unknown as Bindings), ...vars };
  return {
    advance: (ms: number) => (now += ms),
    isolate() {
      const l0 = new MemoryTier();
      // A short idle watch: each send waits for its request's background work, the leases' watch included.
      const quotaGate = new QuotaGate({ lease: { idleMs: 20 } });
      const app = createApp({ now: clock, directory: new TenantDirectory({ now: clock }), metrics: new IsolateMetrics(), l0, quotaGate });
      return {
        l0,
        async send(key: string, body: unknown, headers: Record<string, string> = {}) {
          const ctx = createExecutionContext();
          const init = {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
            body: JSON.stringify(body),
          };
          const res = await app.request('/v1/infer', init, bindings, ctx);
          const text = await res.text();
          await waitOnExecutionContext(ctx);
          return { status: res.status, tier: res.headers.get('x-cache-tier') ?? res.headers.get('x-cache'), timing: res.headers.get('server-timing'), text };
        },
      };
    },
  };
}

describe('MemoryTier', () => {
  it('never holds more bytes than its budget, evicting the least recently used first', () => {
    const l0 = new MemoryTier();
    const budget = 10_000;
    const now = Date.now();
    let peak = 0;
    for (let i = 0; i < 2_000; i++) {
      const bytes = 50 + ((i * 7919) % 3_000);
      expect(l0.set(`k${i}`, entryOf('x', now + 60_000), bytes, budget, now)).toBe(true);
      peak = Math.max(peak, l0.bytes);
      expect(l0.bytes).toBeLessThanOrEqual(budget);
      // The entry just written is always held.
      expect(l0.get(`k${i}`, now)).toBeDefined();
    }
    console.warn(`L0 budget: 2000 entries of 50–3049 B into ${budget} B → peak ${peak} B, ${l0.size} held at the end`);
    // LRU: a read keeps an old entry, the unread ones around it go first.
    const small = new MemoryTier();
    for (const k of ['a', 'b', 'c']) small.set(k, entryOf(k, now + 60_000), 100 - 1, 300, now);
    expect(small.get('a', now)).toBeDefined();
    small.set('d', entryOf('d', now + 60_000), 99, 300, now);
    expect([small.get('a', now), small.get('b', now), small.get('c', now), small.get('d', now)].map(Boolean)).toEqual([true, false, true, true]);
  });

  it('refuses an entry larger than the budget, without a TTL, or already expired; shrinks to a smaller budget', () => {
    const l0 = new MemoryTier();
    const now = Date.now();
    expect(l0.set('big', entryOf('x', now + 1000), 5_000, 4_000, now)).toBe(false);
    expect(l0.set('no-ttl', { ...entryOf('x', 0), expiresAt: undefined }, 10, 4_000, now)).toBe(false);
    expect(l0.set('stale', entryOf('x', now), 10, 4_000, now)).toBe(false);
    for (let i = 0; i < 10; i++) l0.set(`k${i}`, entryOf('x', now + 1000), 300, 4_000, now);
    expect(l0.bytes).toBe(10 * (300 + 2));
    l0.set('k10', entryOf('x', now + 1000), 300, 1_000, now);
    expect(l0.bytes).toBeLessThanOrEqual(1_000);
    expect(l0.size).toBe(3);
  });

  it('lets an entry go at exactly its expiresAt', () => {
    const l0 = new MemoryTier();
    const now = Date.now();
    l0.set('k', entryOf('x', now + 5_000), 10, 1_000, now);
    expect(l0.get('k', now + 4_999)).toBeDefined();
    expect(l0.get('k', now + 5_000)).toBeUndefined();
    expect(l0.bytes).toBe(0);
  });
});

describe('L0 through the worker', () => {
  it('answers a repeated deterministic request from L0 with no cache command at the store and no model call', async () => {
    const { key } = await seedTenantKey();
    const gateway = location().isolate();
    const body = { model, prompt: unique('hot'), params: { temperature: 0, max_tokens: 6 } };
    const first = await gateway.send(key, body);
    expect(first.tier).toBe('MISS');
    await bridgeQuiet();
    await resetBridgeStats();
    const calls = (await modelStats()).invocations;
    const repeats = await Promise.all(Array.from({ length: 20 }, () => gateway.send(key, body)));
    await bridgeQuiet();
    const stats = await bridgeStats();
    console.warn(
      `L0: 20 repeats → tiers ${JSON.stringify([...new Set(repeats.map((r) => r.tier))])}, store commands by name ${JSON.stringify(stats.commandsByName)}, model calls ${(await modelStats()).invocations - calls}`,
    );
    expect(repeats.every((r) => r.status === 200 && r.tier === 'L0' && JSON.parse(r.text).output === JSON.parse(first.text).output)).toBe(true);
    // workerd's clock moves only between events: an L0 lookup does no I/O, but with 20 requests in
    // one isolate another's timer (a lease refill's next turn) may run while this one awaits, so 0 or
    // 1 ms. That no cache I/O happened is the store's count below.
    expect(repeats[0]!.timing).toMatch(/cache;desc="L0";dur=[01],/);
    // Only the quota gate's limiter scripts reach the store; no cache read (GETEX, GET) or write (SET).
    expect(Object.keys(stats.commandsByName).filter((name) => !['evalsha', 'eval'].includes(name.toLowerCase()))).toEqual([]);
    expect((await modelStats()).invocations).toBe(calls);
  });

  it('stays within CACHE_L0_BYTES under many entries: old ones fall back to L2, recent ones stay in L0', { timeout: 60_000 }, async () => {
    const { key } = await seedTenantKey();
    const budget = 4096;
    const gateway = location({ CACHE_L0_BYTES: String(budget) }).isolate();
    const bodies = Array.from({ length: 40 }, (_, i) => ({ model, prompt: unique(`budget ${i}`), params: { temperature: 0, max_tokens: 8 } }));
    let peak = 0;
    for (const body of bodies) {
      expect((await gateway.send(key, body)).tier).toBe('MISS');
      peak = Math.max(peak, gateway.l0.bytes);
      expect(gateway.l0.bytes).toBeLessThanOrEqual(budget);
    }
    console.warn(`L0 via the worker: 40 answers into CACHE_L0_BYTES=${budget} → peak ${peak} B, ${gateway.l0.size} entries held`);
    expect(gateway.l0.size).toBeGreaterThan(1);
    expect(gateway.l0.size).toBeLessThan(40);
    expect((await gateway.send(key, bodies.at(-1))).tier).toBe('L0');
    expect((await gateway.send(key, bodies[0])).tier).toBe('L2');
  });

  it('keeps nothing in L0 when CACHE_L0_BYTES is 0', async () => {
    const { key } = await seedTenantKey();
    const gateway = location({ CACHE_L0_BYTES: '0' }).isolate();
    const body = { model, prompt: unique('no l0'), params: { temperature: 0, max_tokens: 4 } };
    expect((await gateway.send(key, body)).tier).toBe('MISS');
    // A miss fills L2 only; its first read from there admits it to the location's L1.
    expect((await gateway.send(key, body)).tier).toBe('L2');
    expect((await gateway.send(key, body)).tier).toBe('L1');
    expect(gateway.l0.size).toBe(0);
  });

  it('expires an entry at exactly its TTL, also after a promotion from L2 (which keeps the original expiry)', async () => {
    const { key } = await seedTenantKey();
    const here = location();
    const gateway = here.isolate();
    const body = { model, prompt: unique('ttl'), params: { temperature: 0, max_tokens: 4 } };
    const maxAge = { 'cache-control': 'max-age=10' };
    expect((await gateway.send(key, body, maxAge)).tier).toBe('MISS');
    here.advance(6_000);
    // Another isolate: L1 never had it (a miss fills L0 and L2), L2 answers and fills its L0 with the entry's own expiry.
    const other = here.isolate();
    expect((await other.send(key, body, maxAge)).tier).toBe('L2');
    here.advance(3_999);
    expect([(await gateway.send(key, body, maxAge)).tier, (await other.send(key, body, maxAge)).tier]).toEqual(['L0', 'L0']);
    const calls = (await modelStats()).invocations;
    here.advance(1);
    // 10 s after the answer: gone from both L0s, and L1 and L2 refuse it too.
    expect((await other.send(key, body, maxAge)).tier).toBe('MISS');
    expect((await modelStats()).invocations).toBe(calls + 1);
  });

  it("never answers one tenant from another tenant's L0 entry", async () => {
    const a = await seedTenantKey();
    const b = await seedTenantKey();
    const gateway = location().isolate();
    const body = { model, prompt: unique('tenant scoped l0'), params: { seed: 3, max_tokens: 4 } };
    expect((await gateway.send(a.key, body)).tier).toBe('MISS');
    expect((await gateway.send(a.key, body)).tier).toBe('L0');
    const calls = (await modelStats()).invocations;
    expect((await gateway.send(b.key, body)).tier).toBe('MISS');
    expect((await modelStats()).invocations).toBe(calls + 1);
    expect((await gateway.send(b.key, body)).tier).toBe('L0');
  });
});
