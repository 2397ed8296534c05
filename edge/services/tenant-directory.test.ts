/**
 * The directory's shared loads as pure logic, against a scripted store: concurrent lookups of a cold
 * key share one read, and a shared load whose request has gone (in workerd its I/O never settles)
 * holds later lookups for at most the shared-load bound, after which one of them reads again.
 */
import { describe, expect, it } from 'vitest';
import { storeKeys } from '../../shared/contracts/tenancy';
import type { Store } from './store';
import { TenantDirectory } from './tenant-directory';

const TENANT = 'ten_directory_unit';
const KEY_HASH = 'a'.repeat(64);
const records: Record<string, unknown> = {
  [storeKeys.apiKey(KEY_HASH)]: { tenantId: TENANT, keyId: 'key_1', scopes: ['infer'], status: 'active', createdAt: 1 },
  [storeKeys.tenant(TENANT)]: { tenantId: TENANT, name: 'unit', plan: 'pro', createdAt: 1 },
};

/** A store whose reads answer from `records`, or never when `hang` says so. */
function scriptedStore(hang: () => boolean) {
  const reads: string[] = [];
  const store = {
    get: (key: string) => {
      reads.push(key);
      return hang() ? new Promise(() => {}) : Promise.resolve(records[key] ?? null);
    },
  } as unknown as Store;
  return { store, reads };
}

describe('TenantDirectory shared loads', () => {
  it('shares one read of a cold key and one of its tenant among concurrent lookups', async () => {
    const { store, reads } = scriptedStore(() => false);
    const directory = new TenantDirectory();
    const owners = await Promise.all(Array.from({ length: 20 }, () => directory.lookup(store, KEY_HASH)));
    expect(owners.every((o) => o?.tenant.tenantId === TENANT)).toBe(true);
    expect(reads).toEqual([storeKeys.apiKey(KEY_HASH), storeKeys.tenant(TENANT)]);
  });

  it('reads again once a shared load has not settled within the bound, instead of waiting on it forever', async () => {
    let now = 1_000_000;
    let hang = true;
    const { store, reads } = scriptedStore(() => hang);
    const directory = new TenantDirectory({ now: () => now });
    // The first lookup's read never settles, as when its request has ended.
    void directory.lookup(store, KEY_HASH);
    // Within the bound a second lookup waits for that load, and gives up at the bound's end.
    now += 4_990;
    await expect(directory.lookup(store, KEY_HASH)).rejects.toThrow(/did not answer within 10 ms/);
    expect(reads).toEqual([storeKeys.apiKey(KEY_HASH)]);
    // Past the bound, a lookup starts its own read.
    now += 20;
    hang = false;
    expect((await directory.lookup(store, KEY_HASH))?.key.keyId).toBe('key_1');
    expect(reads).toEqual([storeKeys.apiKey(KEY_HASH), storeKeys.apiKey(KEY_HASH), storeKeys.tenant(TENANT)]);
  });
});

describe('TenantDirectory key hashes', () => {
  it('hashes a presented key as the store indexes it (SHA-256 hex), once per key while it is remembered', async () => {
    let t = 0;
    const directory = new TenantDirectory({ now: () => t, maxEntries: 2 });
    const expected = async (s: string) =>
      [...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(s)))].map((b) => b.toString(16).padStart(2, '0')).join('');
    expect(await directory.keyHash('sk_test_one')).toBe(await expected('sk_test_one'));
    expect(await directory.keyHash('sk_test_two')).toBe(await expected('sk_test_two'));
    // Past its bound the oldest is forgotten and hashed again: the answer never changes.
    expect(await directory.keyHash('sk_test_three')).toBe(await expected('sk_test_three'));
    expect(await directory.keyHash('sk_test_one')).toBe(await expected('sk_test_one'));
    t += 10 * 60_000;
    expect(await directory.keyHash('sk_test_two')).toBe(await expected('sk_test_two'));
  });
});

describe('TenantDirectory warm answers', () => {
  it('answers a warm key without the store, and nothing once the key is cold or its tenant record too old', async () => {
    let t = 1_000;
    const { store, reads } = scriptedStore(() => false);
    const directory = new TenantDirectory({ now: () => t });
    expect(directory.warm(store, KEY_HASH)).toBeUndefined();
    const owner = await directory.lookup(store, KEY_HASH);
    expect(owner?.tenant.tenantId).toBe(TENANT);
    const readsAfterLookup = reads.length;
    expect(directory.warm(store, KEY_HASH)).toEqual(owner);
    expect(reads.length).toBe(readsAfterLookup);
    // Past the tenant record's 10 s the plan must be read again: no warm answer.
    t += 10_001;
    expect(directory.warm(store, KEY_HASH)).toBeUndefined();
  });

  it('refreshes a tenant record past half its life in the background while answering warm', async () => {
    let t = 1_000;
    const { store, reads } = scriptedStore(() => false);
    const directory = new TenantDirectory({ now: () => t });
    await directory.lookup(store, KEY_HASH);
    t += 6_000;
    const background: Promise<unknown>[] = [];
    expect(directory.warm(store, KEY_HASH, (work) => background.push(work))?.tenant.tenantId).toBe(TENANT);
    expect(background).toHaveLength(1);
    await Promise.all(background);
    expect(reads.filter((k) => k === storeKeys.tenant(TENANT))).toHaveLength(2);
  });
});
