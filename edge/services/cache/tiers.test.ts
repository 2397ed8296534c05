/**
 * L2 writes in workerd against the stack's Redis behind the bridge, with the real @upstash/redis
 * client: answers stored within one linger leave together, in one store request, and each lands.
 * And an L2 read that outlives its deadline is handed over whole, so its request can keep it.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { bridgeQuiet, bridgeStats, resetBridgeStats } from '../../testing/gateway-client';
import { clearStoreFaults, setStoreFaults } from '../../testing/store-faults';
import { storeFor } from '../store';
import type { CacheEntry } from './entry';
import { MemoryTier } from './memory-tier';
import { l2Get, l2Read, L2_WRITE_LINGER_MS, storeEntry } from './tiers';

const store = () => storeFor({ store: { url: inject('bridgeUrl'), token: inject('bridgeToken') } });
const answer = (text: string): CacheEntry => ({ v: 1, chunks: [text], usage: { prompt_tokens: 3, completion_tokens: 1 }, modelLatencyMs: 5 });

describe('L2 writes', () => {
  it('stores the answers of one linger in one store request, each under its key with its TTL', async () => {
    const targets = { store: store(), l0: new MemoryTier(), l0Bytes: 1 << 20, now: Date.now() };
    const keys = Array.from({ length: 5 }, () => `tiers-test:${crypto.randomUUID()}`);
    await bridgeQuiet();
    await resetBridgeStats();
    const writes = keys.map((key, i) => storeEntry(targets, key, answer(`answer ${i}`), 60)!);
    // The first opens the batch and sends it; the others join it.
    expect(writes.map((w) => w.send !== undefined)).toEqual([true, false, false, false, false]);
    // In L0 at once, in L2 only once the batch has left.
    expect(keys.every((key) => targets.l0.get(key, targets.now) !== undefined)).toBe(true);
    expect((await bridgeStats()).commandsByName['set'] ?? 0).toBe(0);
    // Each entry's `landed` settles only once its batch is written: a joiner's too, though another request sends it.
    const landed: number[] = [];
    writes.forEach((w, i) => void w.landed.then(() => landed.push(i)));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(landed).toEqual([]);
    const started = Date.now();
    await writes[0]!.send;
    expect(Date.now() - started).toBeGreaterThanOrEqual(L2_WRITE_LINGER_MS - 1);
    await Promise.all(writes.map((w) => w.landed));
    expect(landed.sort()).toEqual([0, 1, 2, 3, 4]);
    const stats = await bridgeStats();
    expect([stats.httpRequests, stats.commandsByName['set']]).toEqual([1, 5]);
    const read = await Promise.all(keys.map((key) => l2Get(targets.store, key, Date.now(), 1_000)));
    expect(read.map((r) => r?.entry.chunks)).toEqual(keys.map((_, i) => [`answer ${i}`]));
    expect(read.every((r) => r?.entry.expiresAt === targets.now + 60_000)).toBe(true);
  });
});

describe('L2 reads', () => {
  afterEach(async () => {
    await clearStoreFaults();
  });

  it('reads back exactly what was written, whatever the text (results as plain JSON, not base64)', async () => {
    const targets = { store: store(), l0: new MemoryTier(), l0Bytes: 0, now: Date.now() };
    const key = `tiers-test:${crypto.randomUUID()}`;
    const text = 'héllo wörld · 日本語 · 🦙🚀 · "quoted" \\ back\\slash \n newline \t tab \u2028 · null {"json": [1]}';
    const written = storeEntry(targets, key, answer(text), 60)!;
    await written.send;
    const read = await l2Get(targets.store, key, Date.now(), 1_000);
    expect(read?.entry).toMatchObject(answer(text));
    expect(read?.entry.chunks).toEqual([text]);
    // A plain string value too: the client's own JSON parsing must not change it.
    const raw = `tiers-test:${crypto.randomUUID()}`;
    await targets.store.set(raw, text, { ex: 60 });
    expect(await targets.store.get<string>(raw)).toBe(text);
  });

  it('hands the store call itself to the caller, which settles when the store answers, after a read that passed its deadline', async () => {
    const far = storeFor({ store: { url: inject('outageBridgeUrl'), token: inject('outageBridgeToken') } });
    await setStoreFaults({ latencyMs: 300 });
    const kept: Promise<unknown>[] = [];
    const started = Date.now();
    await expect(l2Read(far, `tiers-test:${crypto.randomUUID()}`, Date.now(), 50, (call) => kept.push(call))).rejects.toThrow(/did not answer within 50 ms/);
    expect(Date.now() - started).toBeLessThan(300);
    // What the request keeps with waitUntil is the store call, still in flight: it settles with the store's answer.
    expect(kept).toHaveLength(1);
    await kept[0];
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });
});
