/**
 * Who a key belongs to: key record and tenant record from the store, cached in the isolate so a warm
 * request does not touch Redis for auth. The cache TTL bounds how long a revoked key, an expired key
 * or a changed plan can still be served from an isolate: {@link REVOCATION_BOUND_MS}.
 */
import { ApiKeyRecordSchema, TenantRecordSchema, storeKeys, type ApiKeyRecord, type TenantRecord } from '../../shared/contracts/tenancy';
import { TtlCache } from './ttl-cache';
import type { Store } from './store';

/** A revocation (or any key/tenant change) takes effect at every edge location within this bound. */
export const REVOCATION_BOUND_MS = 60_000;

/** Entries live for half the bound, leaving the rest for clock skew and in-flight requests. */
export const KEY_CACHE_TTL_MS = REVOCATION_BOUND_MS / 2;

export interface KeyOwner {
  readonly key: ApiKeyRecord;
  readonly tenant: TenantRecord;
}

/** The key would pass authentication (active, not expired) at `now`; scopes and suspension aside. */
export function isUsableKey(owner: KeyOwner, now: number): boolean {
  return owner.key.status === 'active' && (owner.key.expiresAt === undefined || owner.key.expiresAt > now);
}

export interface TenantDirectoryOptions {
  readonly now?: () => number;
  readonly maxEntries?: number;
}

export class TenantDirectory {
  readonly #cache: TtlCache<KeyOwner | null>;
  // In flight only: concurrent lookups of one cold key share one store read.
  readonly #loading = new Map<string, Promise<KeyOwner | null>>();

  constructor(options: TenantDirectoryOptions = {}) {
    this.#cache = new TtlCache({ maxEntries: options.maxEntries ?? 10_000, ttlMs: KEY_CACHE_TTL_MS, now: options.now });
  }

  /**
   * The owner of the key with this SHA-256, or null when the key or its tenant does not exist or
   * is malformed in the store. Misses are cached briefly (5 s) so a flood of one bad key stays cheap
   * while a freshly created key works almost at once. Concurrent lookups of a cold key share one
   * store read (a burst of requests with a new key costs one round trip, not one each).
   */
  lookup(store: Store, keyHash: string): Promise<KeyOwner | null> {
    const cached = this.#cache.get(keyHash);
    if (cached !== undefined) return Promise.resolve(cached);
    const inflight = this.#loading.get(keyHash);
    if (inflight) return inflight;
    const loading = this.#load(store, keyHash)
      .then((owner) => {
        this.#cache.set(keyHash, owner, owner ? KEY_CACHE_TTL_MS : 5_000);
        return owner;
      })
      .finally(() => this.#loading.delete(keyHash));
    this.#loading.set(keyHash, loading);
    return loading;
  }

  /**
   * What the isolate already knows about the key with this SHA-256, without asking the store:
   * its owner, null for a cached miss, undefined when the key is cold here.
   */
  cached(keyHash: string): KeyOwner | null | undefined {
    return this.#cache.get(keyHash);
  }

  async #load(store: Store, keyHash: string): Promise<KeyOwner | null> {
    const rawKey = await store.get<unknown>(storeKeys.apiKey(keyHash));
    const key = rawKey === null ? undefined : ApiKeyRecordSchema.safeParse(rawKey).data;
    if (!key) return null;
    const rawTenant = await store.get<unknown>(storeKeys.tenant(key.tenantId));
    const tenant = rawTenant === null ? undefined : TenantRecordSchema.safeParse(rawTenant).data;
    return tenant ? { key, tenant } : null;
  }
}
