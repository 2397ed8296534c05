/**
 * @upstash/ratelimit, unchanged, against real Redis through the bridge: every single-region
 * algorithm, `rate`, `getRemaining`, `resetUsedTokens`, the ephemeral cache of cachedFixedWindow,
 * and exactness under parallel calls. Windows are an hour long so no test straddles a boundary.
 */
import { Ratelimit } from '@upstash/ratelimit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestBridge, type TestBridge } from './testing';

let tb: TestBridge;

beforeAll(async () => {
  tb = await startTestBridge();
});

afterAll(async () => {
  await tb?.close();
});

beforeEach(() => tb.bridge.resetStats());

type Limiter = ConstructorParameters<typeof Ratelimit>[0]['limiter'];

const ALGORITHMS: ReadonlyArray<{ name: string; limiter: (limit: number) => Limiter }> = [
  { name: 'fixedWindow', limiter: (limit) => Ratelimit.fixedWindow(limit, '1 h') },
  { name: 'slidingWindow', limiter: (limit) => Ratelimit.slidingWindow(limit, '1 h') },
  { name: 'tokenBucket', limiter: (limit) => Ratelimit.tokenBucket(limit, '1 h', limit) },
];

function ratelimit(name: string, limiter: Limiter, options: { autoPipelining?: boolean; cache?: Map<string, number> } = {}) {
  return new Ratelimit({
    redis: tb.client({ enableAutoPipelining: options.autoPipelining ?? true }),
    limiter,
    prefix: tb.key(`rl:${name}`),
    ephemeralCache: options.cache ?? false,
    analytics: false,
    timeout: 0,
  });
}

async function limitInTurn(rl: Ratelimit, id: string, times: number) {
  const results = [];
  for (let i = 0; i < times; i += 1) {
    const result = await rl.limit(id);
    await result.pending;
    results.push(result);
  }
  return results;
}

describe.each(ALGORITHMS)('$name', ({ name, limiter }) => {
  it('admits the limit, then refuses, counting remaining down', async () => {
    const rl = ratelimit(`${name}:basic`, limiter(3));
    const results = await limitInTurn(rl, 'user-1', 4);
    expect(results.map((r) => r.success)).toEqual([true, true, true, false]);
    expect(results.slice(0, 3).map((r) => r.remaining)).toEqual([2, 1, 0]);
    expect(results[0]?.limit).toBe(3);
    expect(tb.bridge.stats().commandsByName.eval).toBeGreaterThanOrEqual(1);
  });

  it('reports getRemaining and starts over after resetUsedTokens', async () => {
    const rl = ratelimit(`${name}:reset`, limiter(5));
    expect((await rl.getRemaining('user-2')).remaining).toBe(5);
    await limitInTurn(rl, 'user-2', 2);
    expect((await rl.getRemaining('user-2')).remaining).toBe(3);
    await rl.resetUsedTokens('user-2');
    expect((await rl.getRemaining('user-2')).remaining).toBe(5);
    expect((await rl.limit('user-2')).remaining).toBe(4);
  });

  it('consumes several tokens at once with { rate }', async () => {
    const rl = ratelimit(`${name}:rate`, limiter(5));
    const first = await rl.limit('user-3', { rate: 2 });
    expect([first.success, first.remaining]).toEqual([true, 3]);
    const second = await rl.limit('user-3', { rate: 3 });
    expect([second.success, second.remaining]).toEqual([true, 0]);
    expect((await rl.limit('user-3', { rate: 1 })).success).toBe(false);
  });

  it('admits exactly L of N parallel calls from many clients', async () => {
    const limit = 10;
    const limiters = Array.from({ length: 8 }, () => ratelimit(`${name}:exact`, limiter(limit), { autoPipelining: false }));
    const results = await Promise.all(Array.from({ length: 48 }, (_, i) => limiters[i % limiters.length]!.limit('burst')));
    expect(results.filter((r) => r.success)).toHaveLength(limit);
    expect(tb.bridge.stats().httpRequests).toBeGreaterThanOrEqual(48);
  });
});

describe('cachedFixedWindow', () => {
  it('serves refusals from the ephemeral cache without asking Redis', async () => {
    const cache = new Map<string, number>();
    const rl = ratelimit('cached', Ratelimit.cachedFixedWindow(3, '1 h'), { cache, autoPipelining: false });
    const admitted = await limitInTurn(rl, 'user-4', 3);
    expect(admitted.map((r) => [r.success, r.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
    ]);
    const evalsAfterAdmitting = tb.bridge.stats().redisCommands;
    expect(evalsAfterAdmitting).toBeGreaterThanOrEqual(3);

    const refused = await limitInTurn(rl, 'user-4', 2);
    expect(refused.map((r) => r.success)).toEqual([false, false]);
    expect(tb.bridge.stats().redisCommands).toBe(evalsAfterAdmitting);

    // A second instance with its own empty cache sees the count Redis holds.
    const other = ratelimit('cached', Ratelimit.cachedFixedWindow(3, '1 h'), { cache: new Map(), autoPipelining: false });
    expect((await other.getRemaining('user-4')).remaining).toBe(0);
    await other.resetUsedTokens('user-4');
    expect((await other.getRemaining('user-4')).remaining).toBe(3);
  });
});
