/**
 * Quota leases against the real store (workerd, the Upstash bridge, Redis). Each "location" is its
 * own app with its own quota gate (leases, block list) and its own store client, on the one shared
 * store, as separate edge locations are. Proven here: the store commands a warm tenant costs (none
 * on its critical path, ≤ 0.2 per admitted request at steady load) and that idle leases go back;
 * at most L and at least L − K + 1 of a burst over K = 3 locations, for a request and a token
 * window; never more than L under staggered waves over six locations with refills and returns; a
 * refused location asking again soon enough to use units given back elsewhere; a plan change
 * within 10 s, the lease taken under the old plan retired.
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { Redis } from '@upstash/redis/cloudflare';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../app';
import { storeKeys } from '../../../shared/contracts/tenancy';
import { estimateTokens } from '../../../shared/tokens';
import type { Bindings } from '../../env';
import type { TenantOverrides } from '../../../shared/plans';
import { BASE, bridgeQuiet, bridgeStats, modelConfig, modelReset, resetBridgeStats } from '../../testing/gateway-client';
import { RecordingGate } from '../../testing/recording-gate';
import { seedTenantKey, store } from '../../testing/seed';
import type { IsolateServices } from '../isolate';
import { TenantDirectory, TENANT_RECORD_TTL_MS } from '../tenant-directory';
import type { QuotaGateOptions } from './gate';
import { BLOCK_RECHECK_MS } from './block-list';
import { DEFAULT_LEASE_POLICY } from './lease-sizing';

const model = inject('model');
const bindings = env as unknown as Bindings;
/** A generous store timeout: a slow shared machine must not trip the outage policy. */
const patient = { ...(env as Record<string, unknown>), STORE_TIMEOUT_MS: '30000' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  await modelReset();
});

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

/** One edge location: its own app, quota gate and store client, on the shared store. */
function location(gateOptions: QuotaGateOptions = {}, services: Partial<IsolateServices> = {}) {
  const client = new Redis({ url: bindings.UPSTASH_REDIS_REST_URL!, token: bindings.UPSTASH_REDIS_REST_TOKEN!, enableTelemetry: false });
  const gate = new RecordingGate(gateOptions);
  const app = createApp({ quotaGate: gate, store: () => client, ...services });
  const send = async (key: string, prompt: string, maxTokens = 2): Promise<Answer> => {
    const res = await app.request(
      `${BASE}/v1/infer`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt, params: { max_tokens: maxTokens } }),
      },
      patient,
      createExecutionContext(),
    );
    return { status: res.status, headers: res.headers, body: await res.text() };
  };
  return { gate, send };
}

/** The store's counters of a tenant window, one per bucket. */
async function windowCounts(kind: string, name: string, tenantId: string): Promise<number[]> {
  const keys = await store.keys(`gw:rl:${kind}:${name}:${tenantId}:*`);
  return Promise.all(keys.map(async (k) => Number(await store.get<number>(k))));
}

/** Waits for the next minute when fewer than `ms` are left in this one (minute windows reset on the minute). */
async function insideMinute(ms: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < ms) await sleep(left + 200);
}

const usageOf = (answer: Answer): number => {
  const { usage } = JSON.parse(answer.body) as { usage: { prompt_tokens: number; completion_tokens: number } };
  return usage.prompt_tokens + usage.completion_tokens;
};

const rateLimitCommands = (byName: Readonly<Record<string, number>>) => (byName.evalsha ?? 0) + (byName.eval ?? 0);

const big: TenantOverrides = {
  requestsPerMinute: 100_000,
  requestsPerHour: 1_000_000,
  requestsPerDay: 10_000_000,
  tokensPerMinute: 10_000_000,
  tokensPerDay: 100_000_000,
};

describe('a warm tenant', () => {
  it('costs no store command on its critical path and at most 0.2 per admitted request at steady load; idle leases go back', { timeout: 120_000 }, async () => {
    // Background work of earlier tests (their leases' idle returns) must not land in the count.
    await sleep(DEFAULT_LEASE_POLICY.idleMs + 500);
    await bridgeQuiet();
    await insideMinute(40_000);
    const idleMs = 1_000;
    const loc = location({ lease: { idleMs } });
    const { key, tenant } = await seedTenantKey({ plan: 'enterprise', overrides: big });
    const answers: Answer[] = [];
    const run = async (n: number, tag: string) => {
      let next = 0;
      // Four clients, each sending its next request when the last one is answered.
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < n) {
            const i = next++;
            answers.push(await loc.send(key, `${tag} ${i} ${crypto.randomUUID()}`));
          }
        }),
      );
    };
    await run(60, 'warm-up');
    const warmSources = loc.gate.sources.length;
    await bridgeQuiet();
    await resetBridgeStats();
    const started = Date.now();
    await run(400, 'steady');
    const elapsed = Date.now() - started;
    const steady = await bridgeStats();
    const sources = loc.gate.sources.slice(warmSources);
    const commands = rateLimitCommands(steady.commandsByName);
    const perRequest = commands / 400;
    console.warn(
      `steady load: 400 requests in ${elapsed} ms over 4 clients, rate-limit commands ${commands} (${perRequest.toFixed(3)} per admitted request), ` +
        `admissions ${JSON.stringify(countBy(sources))}, all commands ${JSON.stringify(steady.commandsByName)}`,
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    // Every steady-state admission came from the leases alone: no store round trip before it.
    expect(sources).toEqual(Array.from({ length: 400 }, () => 'lease'));
    expect(perRequest).toBeLessThanOrEqual(0.2);
    // Idle: the leases give their unused units back, so the store holds exactly what was used.
    await sleep(idleMs + 500);
    await bridgeQuiet();
    const requests = await windowCounts('requests', 'minute', tenant.tenantId);
    const tokens = await windowCounts('tokens', 'minute', tenant.tenantId);
    const used = answers.reduce((n, a) => n + usageOf(a), 0);
    console.warn(
      `after ${idleMs} ms idle: requests per minute counter ${JSON.stringify(requests)} (admitted 460), tokens per minute ${JSON.stringify(tokens)} (used ${used})`,
    );
    expect(requests).toEqual([460]);
    expect(tokens).toEqual([used]);
  });

  it('is admitted from its leases across a minute boundary: the next minute’s units are taken as it begins', { timeout: 90_000 }, async () => {
    const loc = location();
    const { key, tenant } = await seedTenantKey({ plan: 'enterprise', overrides: big });
    // Up to a few seconds before the next minute, then requests until about 1 s before it.
    const boundary = Math.ceil((Date.now() + 4_000) / 60_000) * 60_000;
    await sleep(boundary - 3_000 - Date.now());
    for (let i = 0; i < 4; i++) {
      expect((await loc.send(key, `before ${i} ${crypto.randomUUID()}`)).status).toBe(200);
      await sleep(Math.max(0, boundary - 2_000 + i * 300 - Date.now()));
    }
    await sleep(boundary + 300 - Date.now());
    const before = loc.gate.sources.length;
    const after = await loc.send(key, `after ${crypto.randomUUID()}`);
    expect(after.status).toBe(200);
    const counts = await windowCounts('requests', 'minute', tenant.tenantId);
    console.warn(`across the minute boundary: admissions ${JSON.stringify(loc.gate.sources)}, requests per minute counters ${JSON.stringify(counts)}`);
    // The first request of the new minute needed no store round trip: its units were there already.
    expect(loc.gate.sources.slice(before)).toEqual(['lease']);
    expect(counts.length).toBe(2);
  });
});

function countBy(values: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

describe('K = 3 locations, one burst', () => {
  it('admit at most L and at least L − K + 1 of 300 parallel requests against 50 requests a minute', { timeout: 180_000 }, async () => {
    const rounds: number[] = [];
    for (let round = 0; round < 3; round++) {
      await insideMinute(25_000);
      const { key, tenant } = await seedTenantKey({ overrides: { requestsPerMinute: 50 } });
      const locations = [location(), location(), location()];
      const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => locations[i % 3]!.send(key, `spread ${round} ${i}`)));
      const admitted = answers.filter((a) => a.status === 200).length;
      const limited = answers.filter((a) => a.status === 429).length;
      await bridgeQuiet();
      const counts = await windowCounts('requests', 'minute', tenant.tenantId);
      const perLocation = locations.map((l) => l.gate.sources.filter((s) => s !== 'denied').length);
      console.warn(
        `burst over 3 locations, L = 50: admitted ${admitted} (per location ${JSON.stringify(perLocation)}), 429: ${limited}, store counter ${JSON.stringify(counts)}`,
      );
      rounds.push(admitted);
      expect(admitted + limited).toBe(300);
      expect(admitted).toBeLessThanOrEqual(50);
      expect(admitted).toBeGreaterThanOrEqual(50 - 3 + 1);
      // The counter holds exactly what was admitted: refused takes were refunded, and no location
      // keeps units it did not hand out (each of them was refused in the end).
      expect(counts).toEqual([admitted]);
    }
    console.warn(`3 rounds: admitted ${JSON.stringify(rounds)}`);
  });

  it('admit at most L and at least L − K·u + 1 tokens of 300 parallel requests against a token window of 50 requests’ worth', {
    timeout: 180_000,
  }, async () => {
    // The backend answers late, so every request is decided before any reservation settles.
    await modelConfig({ ttftMs: 3_000 });
    const idleMs = 500;
    const rounds: number[] = [];
    for (let round = 0; round < 2; round++) {
      await insideMinute(20_000);
      const prompt = (i: number) => `tokens ${round} ${String(i).padStart(4, '0')}`;
      const perRequest = estimateTokens(prompt(0)) + 2;
      const limit = 50 * perRequest;
      const { key, tenant } = await seedTenantKey({ overrides: { tokensPerMinute: limit } });
      const locations = [location({ lease: { idleMs } }), location({ lease: { idleMs } }), location({ lease: { idleMs } })];
      const answers = await Promise.all(Array.from({ length: 300 }, (_, i) => locations[i % 3]!.send(key, prompt(i))));
      const admitted = answers.filter((a) => a.status === 200);
      const limited = answers.filter((a) => a.status === 429).length;
      console.warn(`token burst over 3 locations, L = ${limit} tokens (${perRequest} a request): admitted ${admitted.length}, 429: ${limited}`);
      rounds.push(admitted.length);
      expect(admitted.length + limited).toBe(300);
      expect(admitted.length * perRequest).toBeLessThanOrEqual(limit);
      expect(admitted.length * perRequest).toBeGreaterThanOrEqual(limit - 3 * perRequest + 1);
      // Settled to the real usage, and the leftovers returned once idle: the store holds what was used.
      await sleep(idleMs + 500);
      await bridgeQuiet();
      const used = admitted.reduce((n, a) => n + usageOf(a), 0);
      expect(await windowCounts('tokens', 'minute', tenant.tenantId)).toEqual([used]);
    }
    console.warn(`2 rounds: admitted ${JSON.stringify(rounds)} of 50 requests' worth`);
  });
});

describe('many locations over time', () => {
  it('never admit more than L in a window across six locations sending staggered waves, with refills and idle returns', { timeout: 120_000 }, async () => {
    await insideMinute(30_000);
    const idleMs = 300;
    const limit = 120;
    const { key, tenant } = await seedTenantKey({ overrides: { requestsPerMinute: limit } });
    const locations = Array.from({ length: 6 }, () => location({ lease: { idleMs } }));
    let admitted = 0;
    let sent = 0;
    const until = Date.now() + 4_000;
    await Promise.all(
      locations.map(async (loc, l) => {
        let wave = 0;
        while (Date.now() < until) {
          const size = 3 + ((l * 7 + wave * 5) % 20);
          wave += 1;
          const answers = await Promise.all(Array.from({ length: size }, (_, i) => loc.send(key, `wave ${l} ${wave} ${i}`)));
          sent += size;
          admitted += answers.filter((a) => a.status === 200).length;
          expect(answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
          await sleep(50 + ((l * 97 + wave * 31) % 350));
        }
      }),
    );
    await sleep(idleMs + 500);
    await bridgeQuiet();
    const counts = await windowCounts('requests', 'minute', tenant.tenantId);
    console.warn(`6 locations in waves for 4 s, L = ${limit}: sent ${sent}, admitted ${admitted}, store counter after idle ${JSON.stringify(counts)}`);
    expect(sent).toBeGreaterThan(limit);
    expect(admitted).toBeLessThanOrEqual(limit);
    // Every unused unit went back: the counter is what was admitted.
    expect(counts).toEqual([admitted]);
  });
});

describe('block list', () => {
  it(`lets a refused location ask again within ${BLOCK_RECHECK_MS / 1000} s, so units another location gives back idle are not lost`, {
    timeout: 60_000,
  }, async () => {
    await insideMinute(25_000);
    // A's idle watch wakes when the test says, so A keeps its lease through B's burst.
    let wake: Array<() => void> = [];
    const a = location({ lease: { idleMs: 100 }, sleep: () => new Promise<void>((resolve) => wake.push(resolve)) });
    const b = location({ lease: { idleMs: 60_000 } });
    const { key, tenant } = await seedTenantKey({ overrides: { requestsPerMinute: 100 } });
    // A serves one request and keeps the rest of its lease; B takes everything else and is refused.
    expect((await a.send(key, 'a lease')).status).toBe(200);
    const burst = await Promise.all(Array.from({ length: 100 }, (_, i) => b.send(key, `b ${i}`)));
    const admittedB = burst.filter((r) => r.status === 200).length;
    expect(admittedB).toBe(100 - DEFAULT_LEASE_POLICY.minRequests);
    // Right after its refusal B answers from its block list, without the store.
    await bridgeQuiet();
    await resetBridgeStats();
    const blocked = await b.send(key, 'still blocked');
    const stats = await bridgeStats();
    expect(blocked.status).toBe(429);
    expect(stats.httpRequests).toBe(0);
    // A goes idle and gives back what it did not use.
    const woken = wake;
    wake = [];
    for (const w of woken) w();
    await bridgeQuiet();
    expect(await windowCounts('requests', 'minute', tenant.tenantId)).toEqual([1 + admittedB]);
    await sleep(BLOCK_RECHECK_MS);
    const again = await b.send(key, 'asks again');
    console.warn(
      `block recheck: B admitted ${admittedB} of 100, then blocked (${blocked.status}, ${stats.httpRequests} round trips); after A gave back and ${BLOCK_RECHECK_MS} ms: ${again.status}`,
    );
    expect(again.status).toBe(200);
  });
});

describe('plan changes', () => {
  function withClock() {
    let now = Date.now();
    const clock = () => now;
    // The directory (and the app) run on the injected clock; the gate keeps the store's real one.
    const loc = location({}, { directory: new TenantDirectory({ now: clock }), now: clock });
    return { ...loc, advance: (ms: number) => (now += ms) };
  }

  it(`a lower limit holds within ${TENANT_RECORD_TTL_MS / 1000} s, and the lease taken under the old one goes back`, async () => {
    await insideMinute(15_000);
    const seeded = await seedTenantKey({ overrides: { requestsPerMinute: 100 } });
    const gw = withClock();
    for (let i = 0; i < 3; i++) expect((await gw.send(seeded.key, `before ${i}`)).status).toBe(200);
    await bridgeQuiet();
    // The lease holds units beyond the three used.
    expect(await windowCounts('requests', 'minute', seeded.tenant.tenantId)).toEqual([DEFAULT_LEASE_POLICY.minRequests]);
    await store.set(storeKeys.tenant(seeded.tenant.tenantId), { ...seeded.tenant, overrides: { requestsPerMinute: 2 } });
    gw.advance(TENANT_RECORD_TTL_MS - 1_000);
    // Inside the bound the isolate may still use the old record...
    const inside = await gw.send(seeded.key, 'inside the bound');
    expect([200, 429]).toContain(inside.status);
    // ...never past it.
    gw.advance(1_001);
    const after = await gw.send(seeded.key, 'after the bound');
    console.warn(`lower limit: inside the bound ${inside.status}, after it ${after.status} with ${after.headers.get('ratelimit-policy')}`);
    expect(after.status).toBe(429);
    expect(after.headers.get('ratelimit-policy')).toMatch(/^"minute";q=2;w=60/);
    await bridgeQuiet();
    // The unused units of the old lease went back: the counter holds the admitted requests only.
    const admitted = 3 + (inside.status === 200 ? 1 : 0);
    expect(await windowCounts('requests', 'minute', seeded.tenant.tenantId)).toEqual([admitted]);
  });

  it(`a higher limit holds within ${TENANT_RECORD_TTL_MS / 1000} s, even for a tenant this isolate had blocked`, async () => {
    await insideMinute(15_000);
    const seeded = await seedTenantKey({ overrides: { requestsPerMinute: 2 } });
    const gw = withClock();
    for (let i = 0; i < 2; i++) expect((await gw.send(seeded.key, `allowed ${i}`)).status).toBe(200);
    expect((await gw.send(seeded.key, 'refused')).status).toBe(429);
    await store.set(storeKeys.tenant(seeded.tenant.tenantId), { ...seeded.tenant, overrides: { requestsPerMinute: 50 } });
    gw.advance(TENANT_RECORD_TTL_MS + 1);
    const after = await gw.send(seeded.key, 'after the bound');
    console.warn(
      `higher limit: after the bound ${after.status}, ${after.headers.get('ratelimit-policy')}, remaining ${after.headers.get('x-ratelimit-remaining')}`,
    );
    expect(after.status).toBe(200);
    expect(after.headers.get('ratelimit-policy')).toMatch(/^"minute";q=50;w=60/);
    expect(after.headers.get('x-ratelimit-remaining')).toBe(String(50 - 3));
  });
});
