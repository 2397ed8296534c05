/**
 * The operator CLI end to end in-process: runCli with injected IO and the real @upstash/redis client
 * against the real Upstash bridge in front of real Redis. Every command in text and `--json`, what a
 * created key looks like to the edge, and every kind of bad input with its exit status and one line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, ApiKeyRecordSchema, storeKeys, TenantRecordSchema, type TenantRecord } from '../../shared/contracts/tenancy';
import { sha256Hex } from '../../shared/crypto/hash';
import type { EffectivePlan } from '../../shared/plans';
import { testTenants, type TestTenants } from '../tenancy/testing';
import { startTestBridge, type TestBridge } from '../upstash-bridge/testing';
import type { KeyView } from './format';
import { runCli } from './run';

let tb: TestBridge;
let tenants: TestTenants;
let env: Record<string, string>;
const NOW = Date.UTC(2030, 0, 15, 12, 0, 0);
const DAY = 86_400_000;

beforeAll(async () => {
  tb = await startTestBridge();
  tenants = testTenants(tb.direct);
  env = { UPSTASH_REDIS_REST_URL: tb.bridge.url, UPSTASH_REDIS_REST_TOKEN: tb.token };
});
afterAll(async () => {
  await tenants.cleanup();
  await tb.close();
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  json<T>(): T;
}

async function gwWith(runEnv: Record<string, string>, ...argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: runEnv, now: () => NOW });
  const stdout = out.join('');
  return { code, stdout, stderr: err.join(''), json: <T>() => JSON.parse(stdout) as T };
}
const gw = (...argv: string[]) => gwWith(env, ...argv);

type TenantData = { tenant: TenantRecord; limits: Omit<EffectivePlan, 'allowedModels'> & { allowedModels: string[] | null } };
type CreatedKeyData = { apiKey: string; key: KeyView };

async function tenant(label: string, plan = 'pro'): Promise<string> {
  const id = tenants.id(label);
  const run = await gw('tenant', 'create', '--name', `Tenant ${label}`, '--plan', plan, '--id', id);
  expect(run.code).toBe(0);
  return id;
}

describe('tenant commands', () => {
  it('creates a tenant, in text and in JSON, as the edge reads it', async () => {
    const id = tenants.id('create');
    const run = await gw('tenant', 'create', '--name', 'Acme Corp', '--plan', 'pro', '--id', id, '--callback-url', 'https://acme.example/jobs');
    expect(run).toMatchObject({ code: 0, stderr: '', stdout: `Created tenant ${id} (Acme Corp, plan pro).\n` });
    const stored = TenantRecordSchema.parse(JSON.parse((await tb.direct.get(storeKeys.tenant(id))) ?? 'null'));
    expect(stored).toEqual({
      tenantId: id,
      name: 'Acme Corp',
      plan: 'pro',
      status: 'active',
      overrides: {},
      callbackUrl: 'https://acme.example/jobs',
      createdAt: NOW,
    });

    const generated = await gw('tenant', 'create', '--name', 'Generated', '--plan', 'free', '--json');
    const data = generated.json<TenantData>();
    tenants.track(data.tenant.tenantId);
    expect(data.tenant.tenantId).toMatch(/^ten_[0-9a-f]{20}$/);
    expect(data.limits).toMatchObject({ plan: 'free', maxTokens: 512, requestsPerMinute: 60, allowedModels: null });
  });

  it('lists tenants with their key counts', async () => {
    const id = await tenant('list');
    await gw('key', 'create', id);
    const text = await gw('tenant', 'list');
    expect(text.stdout).toMatch(/^TENANT\s+NAME\s+PLAN\s+STATUS\s+KEYS\s+CREATED/);
    expect(text.stdout).toMatch(new RegExp(`${id}\\s+Tenant list\\s+pro\\s+active\\s+1\\s+2030-01-15 12:00:00 UTC`));
    const { tenants: listed } = (await gw('tenant', 'list', '--json')).json<{ tenants: (TenantRecord & { keyCount: number })[] }>();
    expect(listed.find((t) => t.tenantId === id)).toMatchObject({ plan: 'pro', keyCount: 1 });
  });

  it('shows a tenant with its effective limits and its keys, never a secret', async () => {
    const id = await tenant('show');
    const created = (await gw('key', 'create', id, '--name', 'ci', '--json')).json<CreatedKeyData>();
    const text = (await gw('tenant', 'show', id)).stdout;
    expect(text).toContain(`Tenant    ${id}`);
    expect(text).toMatch(/max_tokens\s+4,096\n/);
    expect(text).toContain('every routed model');
    expect(text).toMatch(new RegExp(`${created.key.keyId}\\s+ci\\s+test\\s+infer\\s+active`));
    expect(text).not.toContain(created.apiKey);
    const json = await gw('tenant', 'show', id, '--json');
    expect(json.stdout).not.toContain(created.apiKey);
    expect(json.json<TenantData & { keys: KeyView[] }>().keys).toEqual([{ ...created.key }]);
  });

  it('sets the plan', async () => {
    const id = await tenant('plan', 'free');
    expect((await gw('tenant', 'set-plan', id, 'enterprise')).stdout).toBe(`Tenant ${id}: plan free → enterprise.\n`);
    expect((await gw('tenant', 'set-plan', id, 'pro', '--json')).json<TenantData>().limits).toMatchObject({ plan: 'pro', maxTokens: 4096 });
  });

  it('sets, unsets and clears overrides', async () => {
    const id = await tenant('overrides');
    const set = await gw(
      'tenant',
      'set-overrides',
      id,
      '--max-tokens',
      '1000',
      '--requests-per-minute',
      '10',
      '--allowed-models',
      'a, b,a',
      '--priority',
      'vip',
    );
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/max_tokens\s+1,000 \*\n/);
    expect(set.stdout).toMatch(/models\s+a, b \*\n/);
    const stored = TenantRecordSchema.parse(JSON.parse((await tb.direct.get(storeKeys.tenant(id))) ?? 'null'));
    expect(stored.overrides).toEqual({ maxTokens: 1000, requestsPerMinute: 10, allowedModels: ['a', 'b'], priority: 'vip' });

    const unset = (await gw('tenant', 'set-overrides', id, '--unset', 'max-tokens,allowed-models', '--json')).json<TenantData>();
    expect(unset.tenant.overrides).toEqual({ requestsPerMinute: 10, priority: 'vip' });
    expect(unset.limits).toMatchObject({ maxTokens: 4096, requestsPerMinute: 10, allowedModels: null });
    const cleared = (await gw('tenant', 'set-overrides', id, '--clear', '--json')).json<TenantData>();
    expect(cleared.tenant.overrides).toEqual({});
  });

  it('sets and removes the callback URL', async () => {
    const id = await tenant('callback');
    expect((await gw('tenant', 'set-callback-url', id, 'https://hooks.example/gw')).stdout).toBe(`Tenant ${id}: callback URL https://hooks.example/gw.\n`);
    const cleared = await gw('tenant', 'set-callback-url', id, '--clear', '--json');
    expect(cleared.json<TenantData>().tenant).not.toHaveProperty('callbackUrl');
  });

  it('suspends and resumes, saying when nothing changed', async () => {
    const id = await tenant('suspend');
    expect((await gw('tenant', 'suspend', id)).stdout).toMatch(/^Suspended tenant/);
    expect((await gw('tenant', 'suspend', id)).stdout).toMatch(/already suspended/);
    expect((await gw('tenant', 'show', id, '--json')).json<TenantData>().tenant.status).toBe('suspended');
    expect((await gw('tenant', 'resume', id)).stdout).toBe(`Resumed tenant ${id}.\n`);
    expect((await gw('tenant', 'resume', id, '--json')).json<TenantData>().tenant.status).toBe('active');
  });
});

describe('key commands', () => {
  it('creates a key, printed once, whose SHA-256 is the stored key the edge looks up', async () => {
    const id = await tenant('key');
    const run = await gw('key', 'create', id, '--mode', 'live', '--scopes', 'infer,jobs', '--expires-in', '30d', '--name', 'ci');
    expect(run.code).toBe(0);
    const secret = /\n {2}(gw_\S+)\n/.exec(run.stdout)?.[1] ?? '';
    expect(secret).toMatch(API_KEY_PATTERN);
    expect(secret).toMatch(/^gw_live_/);
    expect(run.stdout.split(secret)).toHaveLength(2);
    expect(run.stdout).toContain('This is the only time the key is shown');
    expect(run.stdout).toContain('expires 2030-02-14 12:00:00 UTC');

    const hash = await sha256Hex(secret);
    expect(await tb.direct.sismember(storeKeys.tenantKeys(id), hash)).toBe(1);
    const record = ApiKeyRecordSchema.parse(JSON.parse((await tb.direct.get(storeKeys.apiKey(hash))) ?? 'null'));
    expect(record).toMatchObject({ tenantId: id, name: 'ci', scopes: ['infer', 'jobs'], status: 'active', createdAt: NOW, expiresAt: NOW + 30 * DAY });
    expect(await tb.direct.get(storeKeys.apiKeyId(record.keyId))).toBe(hash);
  });

  it('creates with defaults and prints JSON', async () => {
    const id = await tenant('key-json');
    const data = (await gw('key', 'create', id, '--json')).json<CreatedKeyData>();
    expect(data.apiKey).toMatch(/^gw_test_/);
    expect(data.key).toMatchObject({ tenantId: id, scopes: ['infer'], status: 'active', mode: 'test', state: 'active' });
    expect(data.key).not.toHaveProperty('expiresAt');
    expect(ApiKeyRecordSchema.parse(JSON.parse((await tb.direct.get(storeKeys.apiKey(await sha256Hex(data.apiKey)))) ?? 'null'))).toMatchObject({
      keyId: data.key.keyId,
    });
  });

  it("lists a tenant's keys without secrets", async () => {
    const id = await tenant('key-list');
    expect((await gw('key', 'list', id)).stdout).toBe(`No keys for tenant ${id}.\n`);
    const a = (await gw('key', 'create', id, '--json')).json<CreatedKeyData>();
    const b = (await gw('key', 'create', id, '--mode', 'live', '--scopes', 'admin', '--json')).json<CreatedKeyData>();
    const text = await gw('key', 'list', id);
    expect(text.stdout).toContain(a.key.keyId);
    expect(text.stdout).toMatch(new RegExp(`${b.key.keyId}\\s+—\\s+live\\s+admin\\s+active`));
    expect(text.stdout).not.toContain(a.apiKey);
    const keys = (await gw('key', 'list', id, '--json')).json<{ keys: KeyView[] }>().keys;
    expect(keys.map((k) => k.keyId).sort()).toEqual([a.key.keyId, b.key.keyId].sort());
  });

  it('rotates a key: a new key printed once, the old one ending after the grace', async () => {
    const id = await tenant('rotate');
    const old = (await gw('key', 'create', id, '--scopes', 'infer,webhooks:ingest', '--name', 'prod', '--json')).json<CreatedKeyData>();
    const text = await gw('key', 'rotate', old.key.keyId);
    expect(text.stdout).toContain(`Rotated ${old.key.keyId}: it stops working at 2030-01-16 12:00:00 UTC.`);
    const data = (await gw('key', 'rotate', old.key.keyId, '--grace', '1h', '--json')).json<CreatedKeyData & { previous: KeyView }>();
    expect(data.previous).toMatchObject({ keyId: old.key.keyId, expiresAt: NOW + 3_600_000, state: 'active' });
    expect(data.key).toMatchObject({ tenantId: id, name: 'prod', scopes: ['infer', 'webhooks:ingest'], mode: 'test' });
    expect(data.apiKey).toMatch(API_KEY_PATTERN);
    const zero = (await gw('key', 'rotate', data.key.keyId, '--grace', '0', '--json')).json<CreatedKeyData & { previous: KeyView }>();
    expect(zero.previous).toMatchObject({ expiresAt: NOW, state: 'expired' });
  });

  it('revokes a key, idempotently', async () => {
    const id = await tenant('revoke');
    const created = (await gw('key', 'create', id, '--json')).json<CreatedKeyData>();
    expect((await gw('key', 'revoke', created.key.keyId)).stdout).toMatch(/^Revoked key key_test_\w+ of tenant/);
    const again = (await gw('key', 'revoke', created.key.keyId, '--json')).json<{ key: KeyView; alreadyRevoked: boolean }>();
    expect(again).toMatchObject({ alreadyRevoked: true, key: { status: 'revoked', revokedAt: NOW, state: 'revoked' } });
    const rotate = await gw('key', 'rotate', created.key.keyId);
    expect(rotate).toMatchObject({ code: 1, stderr: `gw: key ${created.key.keyId} is revoked; create a new key instead\n` });
  });
});
