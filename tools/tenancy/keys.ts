/**
 * API keys in the store, for the operator CLI and the local stack's seed: create, find by id, list,
 * rotate and revoke. Writes exactly the records the edge reads (shared/contracts/tenancy.ts); the
 * key itself is returned once and only its SHA-256 is stored, with an index from the public key id
 * to that hash. Key ids carry the key's mode (`key_live_…`, `key_test_…`) so a rotation can issue
 * a key of the same kind without the secret.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sha256Hex } from '../../shared/crypto/hash';
import { ApiKeyRecordSchema, KEY_PREFIXES, storeKeys, type ApiKeyRecord, type KeyMode, type Scope, type TenantRecord } from '../../shared/contracts/tenancy';
import { fromStored, TenancyError, toStored, updateJson, type TenancyStore } from './store';
import { getTenant } from './tenants';

export { createTenant } from './tenants';
export type { TenancyStore } from './store';

/** A new API key: readable prefix + 256 random bits, base64url. */
export function generateApiKey(mode: KeyMode): string {
  return `${KEY_PREFIXES[mode]}${randomBytes(32).toString('base64url')}`;
}

/** A new key id: `key_<mode>_` and 80 random bits in hex. Public: safe to log and show. */
export function generateKeyId(mode: KeyMode): string {
  return `key_${mode}_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

/** The mode a key id records, or undefined for ids from before ids carried it. */
export function keyModeOf(keyId: string): KeyMode | undefined {
  const mode = /^key_(live|test)_/.exec(keyId)?.[1];
  return mode === 'live' || mode === 'test' ? mode : undefined;
}

/** What a key is now: `expired` is an active record whose `expiresAt` has passed. */
export type KeyState = 'active' | 'revoked' | 'expired';

/** The state of a key record at `now`, as the edge would judge it. */
export function keyState(record: ApiKeyRecord, now: number = Date.now()): KeyState {
  if (record.status === 'revoked') return 'revoked';
  return record.expiresAt !== undefined && record.expiresAt <= now ? 'expired' : 'active';
}

export interface CreatedKey {
  /** The key itself: shown once, never stored. */
  readonly key: string;
  readonly record: ApiKeyRecord;
}

/** Input of {@link createApiKey}. */
export interface NewApiKey {
  readonly tenant: TenantRecord;
  readonly mode: KeyMode;
  readonly scopes: Scope[];
  readonly name?: string;
  readonly expiresAt?: number;
  readonly now?: number;
}

/** Creates a key for a tenant: record, tenant's key set and id index in one transaction. */
export async function createApiKey(store: TenancyStore, input: NewApiKey): Promise<CreatedKey> {
  const key = generateApiKey(input.mode);
  const parsed = ApiKeyRecordSchema.safeParse({
    tenantId: input.tenant.tenantId,
    keyId: generateKeyId(input.mode),
    ...(input.name !== undefined ? { name: input.name } : {}),
    scopes: [...new Set(input.scopes)],
    status: 'active',
    createdAt: input.now ?? Date.now(),
    ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TenancyError('INVALID', `invalid key: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  const record = parsed.data;
  const hash = await sha256Hex(key);
  const tx = store.multi();
  tx.set(storeKeys.apiKey(hash), toStored(record));
  tx.sadd(storeKeys.tenantKeys(record.tenantId), hash);
  tx.set(storeKeys.apiKeyId(record.keyId), hash);
  await tx.exec();
  return { key, record };
}

/** A stored key: its record and the hash it is stored under. */
export interface StoredKey {
  readonly hash: string;
  readonly record: ApiKeyRecord;
}

function parseKey(raw: unknown, what: string): ApiKeyRecord {
  const parsed = ApiKeyRecordSchema.safeParse(raw);
  if (!parsed.success) throw new TenancyError('MALFORMED', `the stored record of key ${what} is malformed`);
  return parsed.data;
}

/** The key with this public id, or null. */
export async function findKeyById(store: TenancyStore, keyId: string): Promise<StoredKey | null> {
  if (!/^key_[A-Za-z0-9_-]{1,60}$/.test(keyId)) return null;
  const hash = await store.get<unknown>(storeKeys.apiKeyId(keyId));
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) return null;
  const raw = await store.get<unknown>(storeKeys.apiKey(hash));
  if (raw === null) return null;
  const record = parseKey(fromStored(raw), keyId);
  return record.keyId === keyId ? { hash, record } : null;
}

/** The key with this public id; throws NOT_FOUND when there is none. */
export async function getKeyById(store: TenancyStore, keyId: string): Promise<StoredKey> {
  const found = await findKeyById(store, keyId);
  if (!found) throw new TenancyError('NOT_FOUND', `no key ${keyId}`);
  return found;
}

/** Every key of a tenant (any status), oldest first. Records that do not parse are skipped. */
export async function listKeys(store: TenancyStore, tenantId: string): Promise<StoredKey[]> {
  const hashes = (await store.smembers(storeKeys.tenantKeys(tenantId))).map(String);
  const keys: StoredKey[] = [];
  for (let i = 0; i < hashes.length; i += 100) {
    const chunk = hashes.slice(i, i + 100);
    const raws = await store.mget<unknown[]>(...chunk.map((h) => storeKeys.apiKey(h)));
    chunk.forEach((hash, j) => {
      const parsed = ApiKeyRecordSchema.safeParse(fromStored(raws[j] ?? null));
      if (parsed.success && parsed.data.tenantId === tenantId) keys.push({ hash, record: parsed.data });
    });
  }
  return keys.sort((a, b) => a.record.createdAt - b.record.createdAt || a.record.keyId.localeCompare(b.record.keyId));
}

/** Revokes a key at once (the edge stops accepting it within its cache bound). Idempotent. */
export async function revokeKey(store: TenancyStore, keyId: string, now: number = Date.now()): Promise<{ record: ApiKeyRecord; alreadyRevoked: boolean }> {
  const { hash } = await getKeyById(store, keyId);
  const result = await updateJson<ApiKeyRecord>(
    store,
    storeKeys.apiKey(hash),
    (raw) => parseKey(raw, keyId),
    (current) => (current.status === 'revoked' ? undefined : { ...current, status: 'revoked', revokedAt: now }),
  );
  if (!result) throw new TenancyError('NOT_FOUND', `no key ${keyId}`);
  return { record: result.after, alreadyRevoked: result.before.status === 'revoked' };
}

/** Options of {@link rotateKey}. */
export interface RotateOptions {
  /** How long the old key keeps working; 0 ends it now. It never gets a later expiry than it had. */
  readonly graceMs: number;
  /** Mode of the new key; default: the old key's (required for ids that do not carry it). */
  readonly mode?: KeyMode;
  /** Expiry of the new key; default none. */
  readonly expiresAt?: number;
  readonly now?: number;
}

/**
 * Replaces a key: a new key for the same tenant with the same name and scopes, and the old one
 * set to expire after the grace period. The new key is written first, so a failure never leaves
 * the tenant without a working key.
 */
export async function rotateKey(store: TenancyStore, keyId: string, options: RotateOptions): Promise<{ created: CreatedKey; previous: ApiKeyRecord }> {
  const now = options.now ?? Date.now();
  const old = await getKeyById(store, keyId);
  const state = keyState(old.record, now);
  if (state !== 'active') throw new TenancyError('CONFLICT', `key ${keyId} is ${state}; create a new key instead`);
  const mode = options.mode ?? keyModeOf(keyId);
  if (!mode) throw new TenancyError('INVALID', `key ${keyId} does not record its mode; pass --mode live|test`);

  const tenant = await getTenant(store, old.record.tenantId);
  const created = await createApiKey(store, {
    tenant,
    mode,
    scopes: old.record.scopes,
    ...(old.record.name !== undefined ? { name: old.record.name } : {}),
    ...(options.expiresAt !== undefined ? { expiresAt: options.expiresAt } : {}),
    now,
  });
  const endsAt = now + options.graceMs;
  const result = await updateJson<ApiKeyRecord>(
    store,
    storeKeys.apiKey(old.hash),
    (raw) => parseKey(raw, keyId),
    (current) => (current.expiresAt !== undefined && current.expiresAt <= endsAt ? undefined : { ...current, expiresAt: endsAt }),
  );
  if (!result) throw new TenancyError('NOT_FOUND', `key ${keyId} disappeared during the rotation; the new key ${created.record.keyId} is active`);
  return { created, previous: result.after };
}
