/**
 * The compare-and-set update against real Redis through the Upstash bridge: concurrent writers never
 * lose each other's change, an absent key is reported, and a store that always changes gives up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBridge, type TestBridge } from '../upstash-bridge/testing';
import { fromStored, TenancyError, toStored, updateJson, type TenancyStore } from './store';

let tb: TestBridge;
let store: TenancyStore;

beforeAll(async () => {
  tb = await startTestBridge();
  store = tb.client();
});
afterAll(() => tb.close());

const asCounter = (raw: unknown) => raw as { n: number; by: string[] };

describe('updateJson', () => {
  it('applies 8 concurrent read-modify-write updates without losing one', async () => {
    const key = tb.key('counter');
    await store.set(key, toStored({ n: 0, by: [] }));
    const writers = Array.from({ length: 8 }, (_, i) => updateJson(store, key, asCounter, (c) => ({ n: c.n + 1, by: [...c.by, `w${i}`] })));
    await Promise.all(writers);
    const final = asCounter(fromStored(await tb.direct.get(key)));
    expect(final.n).toBe(8);
    expect(final.by.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `w${i}`).sort());
  });

  it('returns the value before and after, and leaves the value alone when update says undefined', async () => {
    const key = tb.key('noop');
    await store.set(key, toStored({ n: 1, by: [] }));
    expect(await updateJson(store, key, asCounter, (c) => ({ ...c, n: 2 }))).toEqual({ before: { n: 1, by: [] }, after: { n: 2, by: [] } });
    expect(await updateJson(store, key, asCounter, () => undefined)).toEqual({ before: { n: 2, by: [] }, after: { n: 2, by: [] } });
  });

  it('returns null for an absent key', async () => {
    expect(await updateJson(store, tb.key('absent'), asCounter, (c) => c)).toBeNull();
  });

  it('works with a client that does not deserialise automatically', async () => {
    const key = tb.key('raw');
    const raw = tb.client({ automaticDeserialization: false });
    await raw.set(key, toStored({ n: 5, by: [] }));
    await updateJson(raw, key, asCounter, (c) => ({ ...c, n: c.n + 1 }));
    expect(JSON.parse((await tb.direct.get(key)) ?? '')).toEqual({ n: 6, by: [] });
  });

  it('gives up with CONFLICT when every write loses a race', async () => {
    const key = tb.key('contended');
    await store.set(key, toStored({ n: 0, by: [] }));
    let writes = 0;
    // Another writer changes the value between every read and write.
    const contended = {
      eval: async (script: string, keys: string[], args: string[]) => {
        if (script.includes("redis.call('SET'")) await tb.direct.set(key, toStored({ n: ++writes, by: [] }));
        return store.eval(script, keys, args);
      },
    } as unknown as TenancyStore;
    const attempt = updateJson(contended, key, asCounter, (c) => ({ ...c, n: -1 }));
    await expect(attempt).rejects.toThrow(TenancyError);
    await expect(attempt).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(writes).toBe(10);
  });
});
