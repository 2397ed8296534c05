/**
 * The response cache stage through the worker in workerd against the real stack: a request that
 * waited for its limits while an identical request led, answered and left its flight is answered
 * from L0 instead of calling the backend again (its tier read had missed before that answer was
 * stored). Two apps share one isolate's L0, flights and lookup history; the second one's quota
 * gate holds its admission until the test lets it go.
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../app';
import { Coalescer } from '../services/cache/coalesce';
import { MemoryTier } from '../services/cache/memory-tier';
import { LookupHitRatio } from '../services/cache/speculation';
import { type AdmitInput, type Admission, QuotaGate } from '../services/limits/gate';
import { BASE, bridgeQuiet, modelConfig, modelReset, modelStats } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';

const model = inject('model');

afterEach(async () => {
  await modelReset();
});

/** A quota gate whose admissions wait until {@link release}. */
class HeldGate extends QuotaGate {
  #release: () => void = () => {};
  readonly #held = new Promise<void>((resolve) => {
    this.#release = resolve;
  });
  #waiting = 0;
  /** Admissions waiting for the release. */
  get waiting(): number {
    return this.#waiting;
  }
  release(): void {
    this.#release();
  }
  override async admit(input: AdmitInput): Promise<Admission> {
    this.#waiting += 1;
    await this.#held;
    return super.admit(input);
  }
}

describe('the response cache stage', () => {
  it('answers from L0 a request whose identical leader answered and left while it waited for its limits', { timeout: 30_000 }, async () => {
    const { key } = await seedTenantKey();
    // A model quick to answer: the leader is done long before the held request is admitted.
    await modelConfig({ ttftMs: 5 });
    const shared = { coalescer: new Coalescer(), l0: new MemoryTier(), lookups: new LookupHitRatio() };
    const held = new HeldGate();
    const leaderApp = createApp(shared);
    const heldApp = createApp({ ...shared, quotaGate: held });
    const body = JSON.stringify({ model, prompt: `held ${crypto.randomUUID()}`, params: { temperature: 0, max_tokens: 4 } });
    const send = (app: typeof leaderApp) =>
      app.request(
        `${BASE}/v1/infer`,
        { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body },
        env,
        createExecutionContext(),
      );
    const before = (await modelStats()).invocations;
    // The held request looks up L0 (empty) and its tiers (nothing stored yet), then waits for its limits.
    const waiting = send(heldApp);
    while (held.waiting === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await bridgeQuiet();
    // The identical request leads, calls the backend, answers and stores the entry; its flight ends.
    const leader = await send(leaderApp);
    await leader.text();
    expect(leader.headers.get('x-cache')).toBe('MISS');
    await bridgeQuiet();
    held.release();
    const late = await waiting;
    await late.text();
    const calls = (await modelStats()).invocations - before;
    console.warn(`late request: ${late.status} X-Cache ${late.headers.get('x-cache')} ${late.headers.get('x-cache-tier')}, backend calls ${calls}`);
    expect(late.status).toBe(200);
    expect(late.headers.get('x-cache')).toBe('HIT');
    expect(late.headers.get('x-cache-tier')).toBe('L0');
    expect(calls).toBe(1);
  });
});
