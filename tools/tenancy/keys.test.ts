/**
 * API keys in real Redis through the Upstash bridge: what createApiKey writes is exactly what the
 * edge's tenant directory reads, only the SHA-256 is stored, and rotation and revocation leave the
 * records the edge's auth rejects at the right time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, ApiKeyRecordSchema, storeKeys, TenantRecordSchema } from '../../shared/contracts/tenancy';
import { sha256Hex } from '../../shared/crypto/hash';
import { TenantDirectory } from '../../edge/services/tenant-directory';
import { startTestBridge, type TestBridge } from '../upstash-bridge/testing';
import { createApiKey, findKeyById, generateApiKey, getKeyById, keyModeOf, keyState, listKeys, revokeKey, rotateKey } from './keys';
import { TenancyError, toStored, type TenancyStore } from './store';
import { createTenant } from './tenants';
import { testTenants, type TestTenants } from './testing';

let tb: TestBridge;
let store: TenancyStore;
let tenants: TestTenants;

beforeAll(async () => {
  tb = await startTestBridge();
  store = tb.client();
  tenants = testTenants(tb.direct);
});
afterAll(async () => {
  await tenants.cleanup();
  await tb.close();
});

const newTenant = (label: string) => createTenant(store, { tenantId: tenants.id(label), name: label, plan: 'pro' });

describe('generateApiKey', () => {
  it('makes distinct keys in the shared format for both modes', () => {
    const keys = Array.from({ length: 100 }, (_, i) => generateApiKey(i % 2 ? 'live' : 'test'));
    expect(new Set(keys).size).toBe(100);
    for (const key of keys) expect(key).toMatch(API_KEY_PATTERN);
    expect(keys[1]).toMatch(/^gw_live_/);
    expect(keys[0]).toMatch(/^gw_test_/);
  });
});

describe('createApiKey', () => {
  it('stores only the hash, the record the edge parses, the id index and the tenant set entry', async () => {
    const tenant = await newTenant('create');
    const { key, record } = await createApiKey(store, { tenant, mode: 'live', scopes: ['infer', 'jobs', 'infer'], name: 'ci' });
    const hash = await sha256Hex(key);
    const stored = JSON.parse((await tb.direct.get(storeKeys.apiKey(hash))) ?? 'null') as unknown;
    expect(ApiKeyRecordSchema.parse(stored)).toEqual(record);
    expect(record).toMatchObject({ tenantId: tenant.tenantId, name: 'ci', scopes: ['infer', 'jobs'], status: 'active' });
    expect(record.keyId).toMatch(/^key_live_[0-9a-f]{20}$/);
    expect(await tb.direct.get(storeKeys.apiKeyId(record.keyId))).toBe(hash);
    expect(await tb.direct.smembers(storeKeys.tenantKeys(tenant.tenantId))).toEqual([hash]);
    // The secret appears nowhere in Redis: not as a key name, not in a value.
    const owned = [storeKeys.apiKey(hash), storeKeys.apiKeyId(record.keyId), storeKeys.tenant(tenant.tenantId)];
    for (const name of owned) expect(JSON.stringify(await tb.direct.get(name))).not.toContain(key.slice(8));
  });

  it("is resolved by the edge's tenant directory from the key's SHA-256", async () => {
    const tenant = await newTenant('edge');
    const { key, record } = await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] });
    const owner = await new TenantDirectory().lookup(tb.client(), await sha256Hex(key));
    expect(owner?.key).toEqual(record);
    expect(owner?.tenant).toEqual(TenantRecordSchema.parse(tenant));
  });
});

describe('finding and listing keys', () => {
  it('finds a key by id, and nothing for unknown or malformed ids', async () => {
    const tenant = await newTenant('find');
    const { record } = await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] });
    expect((await findKeyById(store, record.keyId))?.record).toEqual(record);
    expect(await findKeyById(store, 'key_test_00000000000000000000')).toBeNull();
    expect(await findKeyById(store, 'not a key id')).toBeNull();
    await expect(getKeyById(store, 'key_live_nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it("lists a tenant's keys oldest first, and only its own", async () => {
    const a = await newTenant('list-a');
    const b = await newTenant('list-b');
    const first = await createApiKey(store, { tenant: a, mode: 'test', scopes: ['infer'], now: 1_000 });
    const second = await createApiKey(store, { tenant: a, mode: 'live', scopes: ['jobs'], now: 2_000 });
    await createApiKey(store, { tenant: b, mode: 'test', scopes: ['infer'] });
    expect((await listKeys(store, a.tenantId)).map((k) => k.record.keyId)).toEqual([first.record.keyId, second.record.keyId]);
  });
});

describe('revokeKey', () => {
  it('marks the key revoked once, and the edge directory then sees it revoked', async () => {
    const tenant = await newTenant('revoke');
    const { key, record } = await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] });
    const revoked = await revokeKey(store, record.keyId, 5_000);
    expect(revoked).toMatchObject({ alreadyRevoked: false, record: { status: 'revoked', revokedAt: 5_000 } });
    expect(await revokeKey(store, record.keyId, 9_000)).toMatchObject({ alreadyRevoked: true, record: { revokedAt: 5_000 } });
    const owner = await new TenantDirectory().lookup(tb.client(), await sha256Hex(key));
    expect(owner?.key.status).toBe('revoked');
  });
});

describe('rotateKey', () => {
  it('issues a key with the same tenant, name, scopes and mode, and ends the old one after the grace', async () => {
    const tenant = await newTenant('rotate');
    const old = await createApiKey(store, { tenant, mode: 'live', scopes: ['infer', 'admin'], name: 'prod' });
    const now = Date.now();
    const { created, previous } = await rotateKey(store, old.record.keyId, { graceMs: 3_600_000, now });
    expect(created.key).toMatch(/^gw_live_/);
    expect(created.record).toMatchObject({ tenantId: tenant.tenantId, name: 'prod', scopes: ['infer', 'admin'], status: 'active' });
    expect(created.record.expiresAt).toBeUndefined();
    expect(previous).toMatchObject({ keyId: old.record.keyId, status: 'active', expiresAt: now + 3_600_000 });
    expect(keyState(previous, now)).toBe('active');
    expect(keyState(previous, now + 3_600_000)).toBe('expired');
    const owner = await new TenantDirectory().lookup(tb.client(), await sha256Hex(created.key));
    expect(owner?.key.keyId).toBe(created.record.keyId);
  });

  it('never extends an earlier expiry, and refuses revoked or expired keys', async () => {
    const tenant = await newTenant('rotate-rules');
    const now = Date.now();
    const soon = await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'], expiresAt: now + 60_000, now });
    expect((await rotateKey(store, soon.record.keyId, { graceMs: 86_400_000, now })).previous.expiresAt).toBe(now + 60_000);
    const revoked = await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] });
    await revokeKey(store, revoked.record.keyId);
    await expect(rotateKey(store, revoked.record.keyId, { graceMs: 0 })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(rotateKey(store, soon.record.keyId, { graceMs: 0, now: now + 61_000 })).rejects.toThrow(/is expired/);
  });

  it('needs a mode for key ids that do not carry one', async () => {
    const tenant = await newTenant('legacy');
    const { record } = await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] });
    // A key id from before ids carried the mode: same record and index under an id without it.
    const hash = await tb.direct.get(storeKeys.apiKeyId(record.keyId));
    const legacy = { ...record, keyId: `key_${record.keyId.slice(-20)}` };
    await tb.direct.set(storeKeys.apiKey(hash ?? ''), toStored(legacy));
    await tb.direct.set(storeKeys.apiKeyId(legacy.keyId), hash ?? '');
    expect(keyModeOf(legacy.keyId)).toBeUndefined();
    await expect(rotateKey(store, legacy.keyId, { graceMs: 0 })).rejects.toThrow(TenancyError);
    const { created } = await rotateKey(store, legacy.keyId, { graceMs: 0, mode: 'live' });
    expect(created.key).toMatch(/^gw_live_/);
    await tb.direct.del(storeKeys.apiKeyId(legacy.keyId));
  });
});
