/**
 * Tenant records in real Redis through the Upstash bridge: creation (and the seed's replace),
 * listing, and atomic updates that keep concurrent changes to different fields.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeKeys, TenantRecordSchema } from '../../shared/contracts/tenancy';
import { startTestBridge, type TestBridge } from '../upstash-bridge/testing';
import { createApiKey } from './keys';
import type { TenancyStore } from './store';
import { createTenant, findTenant, getTenant, listTenants, mergeOverrides, updateTenant } from './tenants';
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

describe('createTenant', () => {
  it('writes a record the shared schema parses and adds the id to the tenant set', async () => {
    const tenantId = tenants.id('create');
    const tenant = await createTenant(store, { tenantId, name: 'Acme', plan: 'free', callbackUrl: 'https://acme.example/hook', now: 1_700_000_000_000 });
    expect(tenant).toEqual({
      tenantId,
      name: 'Acme',
      plan: 'free',
      status: 'active',
      overrides: {},
      callbackUrl: 'https://acme.example/hook',
      createdAt: 1_700_000_000_000,
    });
    expect(TenantRecordSchema.parse(JSON.parse((await tb.direct.get(storeKeys.tenant(tenantId))) ?? 'null'))).toEqual(tenant);
    expect(await tb.direct.sismember(storeKeys.tenants(), tenantId)).toBe(1);
  });

  it('generates ids in the shared format', async () => {
    const tenant = await createTenant(store, { name: 'Generated', plan: 'pro' });
    tenants.track(tenant.tenantId);
    expect(tenant.tenantId).toMatch(/^ten_[0-9a-f]{20}$/);
  });

  it('refuses an existing id unless asked to replace it (the local seed)', async () => {
    const tenantId = tenants.id('dup');
    await createTenant(store, { tenantId, name: 'First', plan: 'free' });
    await expect(createTenant(store, { tenantId, name: 'Second', plan: 'pro' })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect((await getTenant(store, tenantId)).name).toBe('First');
    await createTenant(store, { tenantId, name: 'Second', plan: 'pro', replace: true });
    expect((await getTenant(store, tenantId)).name).toBe('Second');
  });

  it('rejects values outside the shared schema', async () => {
    await expect(createTenant(store, { tenantId: 'Bad Id', name: 'x', plan: 'free' })).rejects.toMatchObject({ code: 'INVALID' });
  });
});

describe('reading tenants', () => {
  it('finds nothing for unknown or malformed ids, and reports malformed records', async () => {
    expect(await findTenant(store, tenants.id('absent'))).toBeNull();
    expect(await findTenant(store, '../etc')).toBeNull();
    const broken = tenants.id('broken');
    await tb.direct.set(storeKeys.tenant(broken), '{"tenantId":"nope"}');
    await tb.direct.sadd(storeKeys.tenants(), broken);
    await expect(getTenant(store, broken)).rejects.toMatchObject({ code: 'MALFORMED' });
    const { tenants: listed, malformed } = await listTenants(store);
    expect(malformed).toContain(broken);
    expect(listed.map((t) => t.tenant.tenantId)).not.toContain(broken);
  });

  it('lists tenants with their key counts', async () => {
    const tenant = await createTenant(store, { tenantId: tenants.id('listed'), name: 'Listed', plan: 'enterprise' });
    await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] });
    await createApiKey(store, { tenant, mode: 'live', scopes: ['infer'] });
    const { tenants: listed } = await listTenants(store);
    expect(listed.find((t) => t.tenant.tenantId === tenant.tenantId)).toEqual({ tenant, keyCount: 2 });
  });
});

describe('updateTenant', () => {
  it('keeps concurrent changes to different fields', async () => {
    const tenantId = tenants.id('race');
    await createTenant(store, { tenantId, name: 'Race', plan: 'free' });
    await Promise.all([
      updateTenant(store, tenantId, { plan: 'enterprise' }),
      updateTenant(store, tenantId, { status: 'suspended' }),
      updateTenant(store, tenantId, (t) => ({ overrides: mergeOverrides(t.overrides, { set: { maxTokens: 100 } }) })),
      updateTenant(store, tenantId, (t) => ({ overrides: mergeOverrides(t.overrides, { set: { allowedModels: ['m'] } }) })),
      updateTenant(store, tenantId, { callbackUrl: 'https://race.example/cb' }),
    ]);
    expect(await getTenant(store, tenantId)).toMatchObject({
      plan: 'enterprise',
      status: 'suspended',
      overrides: { maxTokens: 100, allowedModels: ['m'] },
      callbackUrl: 'https://race.example/cb',
    });
    const { after } = await updateTenant(store, tenantId, { callbackUrl: null });
    expect(after).not.toHaveProperty('callbackUrl');
  });

  it('reports an unknown tenant and a change the schema rejects', async () => {
    await expect(updateTenant(store, tenants.id('ghost'), { plan: 'pro' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const tenantId = tenants.id('invalid');
    await createTenant(store, { tenantId, name: 'Invalid', plan: 'free' });
    await expect(updateTenant(store, tenantId, { callbackUrl: 'ftp://x' })).rejects.toMatchObject({ code: 'INVALID' });
  });
});

describe('mergeOverrides', () => {
  it('sets, unsets and clears, validating the result', () => {
    const current = { maxTokens: 10, requestsPerMinute: 5, allowedModels: ['a'] };
    expect(mergeOverrides(current, { set: { maxTokens: 20 } })).toEqual({ maxTokens: 20, requestsPerMinute: 5, allowedModels: ['a'] });
    expect(mergeOverrides(current, { unset: ['allowedModels', 'maxTokens'] })).toEqual({ requestsPerMinute: 5 });
    expect(mergeOverrides(current, { clear: true, set: { priority: 'vip' } })).toEqual({ priority: 'vip' });
    expect(() => mergeOverrides(current, { set: { maxTokens: 0 } })).toThrow(/maxTokens/);
  });
});
