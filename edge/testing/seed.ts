/**
 * Test support inside workerd: writes tenants and keys straight into the store through the bridge
 * (the same records the operator CLI writes), with WebCrypto so it runs in the Workers runtime.
 */
import { env } from 'cloudflare:test';
import { Redis } from '@upstash/redis/cloudflare';
import { sha256Hex } from '../../shared/crypto/hash';
import { storeKeys, type ApiKeyRecord, type Scope, type TenantRecord } from '../../shared/contracts/tenancy';
import type { Plan, TenantOverrides } from '../../shared/plans';
import type { Bindings } from '../env';

const bindings = env as unknown as Bindings;

export const store = new Redis({ url: bindings.UPSTASH_REDIS_REST_URL!, token: bindings.UPSTASH_REDIS_REST_TOKEN!, enableTelemetry: false });

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `gw_test_${btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '')}`;
}

export interface SeededKey {
  readonly key: string;
  readonly hash: string;
  readonly record: ApiKeyRecord;
  readonly tenant: TenantRecord;
}

export interface SeedOptions {
  readonly plan?: Plan;
  readonly scopes?: Scope[];
  readonly overrides?: TenantOverrides;
  readonly expiresAt?: number;
  readonly status?: TenantRecord['status'];
  /** A tenant id the settings already name (a webhook source's tenant); default a fresh one. */
  readonly tenantId?: string;
  /** Fields of the tenant record besides the plan (callback URL, webhook secrets). */
  readonly tenant?: Pick<TenantRecord, 'callbackUrl' | 'webhookSecrets'>;
}

/** A fresh tenant with one key; ids are unique per call so tests never collide. */
export async function seedTenantKey(options: SeedOptions = {}): Promise<SeededKey> {
  const suffix = crypto.randomUUID().replaceAll('-', '').slice(0, 16);
  const tenant: TenantRecord = {
    tenantId: options.tenantId ?? `ten_t${suffix}`,
    name: `test ${suffix}`,
    plan: options.plan ?? 'pro',
    status: options.status ?? 'active',
    overrides: options.overrides ?? {},
    createdAt: Date.now(),
    ...options.tenant,
  };
  const key = randomKey();
  const hash = await sha256Hex(key);
  const record: ApiKeyRecord = {
    tenantId: tenant.tenantId,
    keyId: `key_${suffix}`,
    scopes: options.scopes ?? ['infer'],
    status: 'active',
    createdAt: Date.now(),
    ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
  };
  await store.set(storeKeys.tenant(tenant.tenantId), tenant);
  await store.set(storeKeys.apiKey(hash), record);
  return { key, hash, record, tenant };
}

/** Marks a key revoked in the store, as the CLI's `key revoke` does. */
export async function revokeKey(seeded: SeededKey, now = Date.now()): Promise<void> {
  await store.set(storeKeys.apiKey(seeded.hash), { ...seeded.record, status: 'revoked', revokedAt: now });
}
