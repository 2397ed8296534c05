/**
 * Who a key belongs to: key record and tenant record from the store, cached in the isolate so a warm
 * request does not touch Redis for auth. Two bounds:
 * - a key change (revoked, expired, rotated) takes effect within {@link REVOCATION_BOUND_MS}: key
 *   records are cached for half of it;
 * - a tenant change (plan, overrides, suspension) takes effect within {@link TENANT_RECORD_TTL_MS}:
 *   a tenant record older than that is never used for a decision. Past half its age a request
 *   refreshes it in the background, so a busy tenant rarely waits for the store.
 * The quota leases follow the plan in force (services/limits/lease.ts), so a new limit holds as
 * soon as the record carrying it does.
 */
import { ApiKeyRecordSchema, TenantRecordSchema, storeKeys, type ApiKeyRecord, type TenantRecord } from '../../shared/contracts/tenancy';
import { sha256Hex } from '../../shared/crypto/hash';
import { describeError, log } from './log';
import { awaitShared } from './cross-request';
import type { Store } from './store';
import { TtlCache } from './ttl-cache';

/** A revocation (or any key change) takes effect at every edge location within this bound. */
export const REVOCATION_BOUND_MS = 60_000;

/** Key entries live for half the bound, leaving the rest for clock skew and in-flight requests. */
export const KEY_CACHE_TTL_MS = REVOCATION_BOUND_MS / 2;

/** A plan or override change (any tenant record change) takes effect at every edge location within this bound. */
export const TENANT_RECORD_TTL_MS = 10_000;

/** Misses are cached briefly, so a flood of one bad key stays cheap while a new key works almost at once. */
const MISS_TTL_MS = 5_000;
/** The longest a lookup waits for another request's load of the same record before starting its own. */
const SHARED_LOAD_MS = 5_000;

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

interface TenantEntry {
  readonly record: TenantRecord | null;
  /** When the read that returned it was issued: the record is at least this fresh. */
  readonly asOf: number;
}

export class TenantDirectory {
  readonly #now: () => number;
  // Both outlive a request on purpose: they are what spares the store on a warm request.
  readonly #keys: TtlCache<ApiKeyRecord | null>;
  // Kept up to the key TTL so `cached` can still vouch for a key; lookups use a record only while it is young enough.
  readonly #tenants: TtlCache<TenantEntry>;
  // The SHA-256 of each key presented lately: a warm request then costs no digest (a measurable share
  // of the edge's CPU per request in a workerd profile). Bounded like the records.
  readonly #hashes: TtlCache<string>;
  readonly #refreshing = new Set<string>();
  // In flight only: concurrent lookups of one cold key (or tenant) share one store read.
  readonly #inflight = new Map<string, { readonly load: Promise<unknown>; readonly startedAt: number }>();

  constructor(options: TenantDirectoryOptions = {}) {
    this.#now = options.now ?? Date.now;
    const maxEntries = options.maxEntries ?? 10_000;
    this.#keys = new TtlCache({ maxEntries, ttlMs: KEY_CACHE_TTL_MS, now: this.#now });
    this.#tenants = new TtlCache({ maxEntries, ttlMs: KEY_CACHE_TTL_MS, now: this.#now });
    this.#hashes = new TtlCache({ maxEntries, ttlMs: KEY_CACHE_TTL_MS, now: this.#now });
  }

  /** The SHA-256 (hex) of a presented key, which is what the store indexes keys by. */
  async keyHash(presented: string): Promise<string> {
    const known = this.#hashes.get(presented);
    if (known !== undefined) return known;
    const hash = await sha256Hex(presented);
    this.#hashes.set(presented, hash);
    return hash;
  }

  /**
   * The owner of the key with this SHA-256, or null when the key or its tenant does not exist or
   * is malformed in the store. `background` (a request's `waitUntil`) lets a tenant record past
   * half its lifetime be refreshed off the request's path; without it the record simply ages out.
   * Concurrent lookups of a cold key share one store read of the key and one of its tenant.
   */
  async lookup(store: Store, keyHash: string, background?: (work: Promise<unknown>) => void): Promise<KeyOwner | null> {
    let key = this.#keys.get(keyHash);
    if (key === undefined) {
      key = await this.#once(`key:${keyHash}`, async () => {
        const loaded = await this.#loadKey(store, keyHash);
        this.#keys.set(keyHash, loaded, loaded ? KEY_CACHE_TTL_MS : MISS_TTL_MS);
        return loaded;
      });
    }
    if (!key) return null;
    const tenant = await this.#tenant(store, key.tenantId, background);
    return tenant ? { key, tenant } : null;
  }

  /**
   * What {@link lookup} would answer, when it can answer without the store (a warm key and a tenant
   * record young enough to use): then the caller needs no deadline or await. Undefined when cold.
   */
  warm(store: Store, keyHash: string, background?: (work: Promise<unknown>) => void): KeyOwner | null | undefined {
    const key = this.#keys.get(keyHash);
    if (key === undefined) return undefined;
    if (key === null) return null;
    const tenant = this.#youngTenant(store, key.tenantId, background);
    if (tenant === undefined) return undefined;
    return tenant ? { key, tenant } : null;
  }

  /**
   * What the isolate already knows about the key with this SHA-256, without asking the store:
   * its owner (with the last tenant record read), null for a cached miss, undefined when cold here.
   */
  cached(keyHash: string): KeyOwner | null | undefined {
    const key = this.#keys.get(keyHash);
    if (key === null) return null;
    if (key === undefined) return undefined;
    const tenant = this.#tenants.get(key.tenantId)?.record;
    return tenant ? { key, tenant } : tenant === null ? null : undefined;
  }

  async #tenant(store: Store, tenantId: string, background: ((work: Promise<unknown>) => void) | undefined): Promise<TenantRecord | null> {
    const young = this.#youngTenant(store, tenantId, background);
    if (young !== undefined) return young;
    return this.#once(`tenant:${tenantId}`, () => this.#refreshTenant(store, tenantId));
  }

  /** The tenant record while it is young enough to use (refreshed in `background` past half its life), else undefined. */
  #youngTenant(store: Store, tenantId: string, background: ((work: Promise<unknown>) => void) | undefined): TenantRecord | null | undefined {
    const entry = this.#tenants.get(tenantId);
    const age = entry ? this.#now() - entry.asOf : Number.POSITIVE_INFINITY;
    if (!entry || age >= TENANT_RECORD_TTL_MS) return undefined;
    if (background && age >= TENANT_RECORD_TTL_MS / 2 && !this.#refreshing.has(tenantId)) {
      this.#refreshing.add(tenantId);
      background(
        this.#refreshTenant(store, tenantId)
          .catch((err: unknown) => log('warn', 'tenant record refresh failed', { tenant_id: tenantId, ...describeError(err) }))
          .finally(() => this.#refreshing.delete(tenantId)),
      );
    }
    return entry.record;
  }

  /**
   * Runs `load` once for concurrent callers of the same `id`. Another request's load is waited for
   * without awaiting its promise (services/cross-request.ts), for at most {@link SHARED_LOAD_MS}: in
   * workerd a load whose request has ended never settles, so one older than that is started again.
   */
  #once<T>(id: string, load: () => Promise<T>): Promise<T> {
    const now = this.#now();
    const running = this.#inflight.get(id);
    if (running && now - running.startedAt < SHARED_LOAD_MS) {
      return awaitShared(running.load as Promise<T>, SHARED_LOAD_MS - (now - running.startedAt), 'the store (a shared tenant lookup)');
    }
    const entry = { load: load(), startedAt: now };
    this.#inflight.set(id, entry);
    void entry.load
      .finally(() => {
        if (this.#inflight.get(id) === entry) this.#inflight.delete(id);
      })
      .catch(() => {});
    return entry.load as Promise<T>;
  }

  async #refreshTenant(store: Store, tenantId: string): Promise<TenantRecord | null> {
    const asOf = this.#now();
    const raw = await store.get<unknown>(storeKeys.tenant(tenantId));
    const record = raw === null ? null : (TenantRecordSchema.safeParse(raw).data ?? null);
    this.#tenants.set(tenantId, { record, asOf }, record ? KEY_CACHE_TTL_MS : MISS_TTL_MS);
    return record;
  }

  async #loadKey(store: Store, keyHash: string): Promise<ApiKeyRecord | null> {
    const raw = await store.get<unknown>(storeKeys.apiKey(keyHash));
    return raw === null ? null : (ApiKeyRecordSchema.safeParse(raw).data ?? null);
  }
}
