/**
 * Tenants and API keys in the store, for the operator tooling and the local stack's seed. Writes
 * exactly the records the edge reads (shared/contracts/tenancy.ts); the key itself is returned
 * once and only its SHA-256 is stored.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Redis } from '@upstash/redis';
import { sha256Hex } from '../../shared/crypto/hash';
import {
  KEY_PREFIXES,
  storeKeys,
  type ApiKeyRecord,
  type KeyMode,
  type Plan,
  type Scope,
  type TenantRecord,
} from '../../shared/contracts/tenancy';

/** A new API key: readable prefix + 256 random bits, base64url. */
export function generateApiKey(mode: KeyMode): string {
  return `${KEY_PREFIXES[mode]}${randomBytes(32).toString('base64url')}`;
}

export type TenantStore = Pick<Redis, 'set' | 'sadd' | 'get'>;

export async function createTenant(store: TenantStore, input: { name: string; plan: Plan; tenantId?: string; now?: number }): Promise<TenantRecord> {
  const record: TenantRecord = {
    tenantId: input.tenantId ?? `ten_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
    name: input.name,
    plan: input.plan,
    createdAt: input.now ?? Date.now(),
  };
  await store.set(storeKeys.tenant(record.tenantId), record);
  await store.sadd(storeKeys.tenants(), record.tenantId);
  return record;
}

export interface CreatedKey {
  /** The key itself: shown once, never stored. */
  readonly key: string;
  readonly record: ApiKeyRecord;
}

export async function createApiKey(
  store: TenantStore,
  input: { tenant: TenantRecord; mode: KeyMode; scopes: Scope[]; expiresAt?: number; now?: number },
): Promise<CreatedKey> {
  const key = generateApiKey(input.mode);
  const record: ApiKeyRecord = {
    tenantId: input.tenant.tenantId,
    keyId: `key_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
    plan: input.tenant.plan,
    scopes: input.scopes,
    status: 'active',
    createdAt: input.now ?? Date.now(),
    ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}),
  };
  const hash = await sha256Hex(key);
  await store.set(storeKeys.apiKey(hash), record);
  await store.sadd(storeKeys.tenantKeys(input.tenant.tenantId), hash);
  return { key, record };
}
