/**
 * The two cache tiers. L1: the Workers Cache API of the location (`caches.default`, entries under a
 * synthetic internal URL, never reachable from outside). L2: Upstash Redis, global. Reads from L2
 * fill L1; writes go to both. Every failure is a miss (the cache is never a reason to fail a request).
 */
import { withDeadline } from '../deadline';
import type { Store } from '../store';
import { CacheEntrySchema, MAX_ENTRY_BYTES, type CacheEntry } from './entry';

const L1_ORIGIN = 'https://response-cache.gateway.internal/v1/';
const L2_PREFIX = 'gw:cache:v1:';

function l1Cache(): Cache | undefined {
  return typeof caches === 'undefined' ? undefined : caches.default;
}

const parse = (raw: unknown): CacheEntry | undefined => CacheEntrySchema.safeParse(typeof raw === 'string' ? safeJson(raw) : raw).data;

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The internal URL of a key's L1 entry. */
export const l1Url = (key: string) => `${L1_ORIGIN}${key}`;

/** L1 lookup: the entry, or undefined. */
export async function l1Get(key: string): Promise<CacheEntry | undefined> {
  try {
    const hit = await l1Cache()?.match(l1Url(key));
    return hit ? parse(await hit.text()) : undefined;
  } catch {
    return undefined;
  }
}

/** L1 write with a TTL (seconds). */
export async function l1Put(key: string, entry: CacheEntry, ttlS: number): Promise<void> {
  try {
    const body = JSON.stringify(entry);
    await l1Cache()?.put(l1Url(key), new Response(body, { headers: { 'content-type': 'application/json', 'cache-control': `max-age=${ttlS}` } }));
  } catch {
    // The location cache is best effort.
  }
}

/**
 * L2 lookup with GETEX (no options: a plain read). GETEX, unlike GET, is not a read-only command
 * for @upstash/redis's auto-pipeline, so when it is issued in the same tick as the rate limiter's
 * EVALSHAs it rides in the same HTTP request: one store round trip for limits and lookup together.
 * Past `timeoutMs` (the store timeout, as the limiters' own) it is a miss: a stalled store never
 * holds a request that the limits let through.
 */
export async function l2Get(store: Store, key: string, timeoutMs: number): Promise<CacheEntry | undefined> {
  try {
    return parse(await withDeadline(store.getex<unknown>(`${L2_PREFIX}${key}`), timeoutMs, 'the L2 cache'));
  } catch {
    return undefined;
  }
}

/** L2 write with a TTL (seconds); entries over {@link MAX_ENTRY_BYTES} are skipped. */
export async function l2Put(store: Store, key: string, entry: CacheEntry, ttlS: number): Promise<void> {
  const body = JSON.stringify(entry);
  if (body.length > MAX_ENTRY_BYTES) return;
  try {
    await store.set(`${L2_PREFIX}${key}`, body, { ex: ttlS });
  } catch {
    // A failed store write only costs a future miss.
  }
}

/** Writes both tiers. */
export async function storeEntry(store: Store, key: string, entry: CacheEntry, ttlS: number): Promise<void> {
  if (JSON.stringify(entry).length > MAX_ENTRY_BYTES) return;
  await Promise.all([l1Put(key, entry, ttlS), l2Put(store, key, entry, ttlS)]);
}
