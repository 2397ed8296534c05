/**
 * The cache tiers behind L0 (memory-tier.ts). L1: the Workers Cache API of the location
 * (`caches.default`, entries under a synthetic internal URL, never reachable from outside). L2:
 * Upstash Redis, global. A read from L2 fills L1, a read from either fills L0; a write goes to all
 * three, serialised once. Every tier lets an entry go at its `expiresAt`, and every failure is a
 * miss (the cache is never a reason to fail a request).
 */
import { nextTurn } from '../background';
import { LingerBatcher } from '../linger-batch';
import { withDeadline } from '../deadline';
import type { Store } from '../store';
import { CacheEntrySchema, MAX_ENTRY_BYTES, type CacheEntry } from './entry';
import type { MemoryTier } from './memory-tier';

const L1_ORIGIN = 'https://response-cache.gateway.internal/v1/';
const L2_PREFIX = 'gw:cache:v1:';

/** An entry as a tier holds it: parsed, and as the JSON it is stored as. */
export interface StoredEntry {
  readonly entry: CacheEntry;
  readonly json: string;
}

function l1Cache(): Cache | undefined {
  return typeof caches === 'undefined' ? undefined : caches.default;
}

/** A valid entry that has not expired at `now`, or undefined. */
function live(raw: unknown, now: number): CacheEntry | undefined {
  const entry = CacheEntrySchema.safeParse(raw).data;
  return entry && (entry.expiresAt === undefined || entry.expiresAt > now) ? entry : undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const utf8 = new TextEncoder();

/** Bytes of an entry's stored form (what L0 counts against its budget). */
export const storedBytes = (json: string) => utf8.encode(json).byteLength;

/** Seconds an entry has left at `now` (at least 1), or `fallbackS` for an entry without an expiry. */
export const remainingTtlS = (entry: CacheEntry, now: number, fallbackS: number) =>
  entry.expiresAt === undefined ? fallbackS : Math.max(1, Math.ceil((entry.expiresAt - now) / 1000));

/** The internal URL of a key's L1 entry. */
export const l1Url = (key: string) => `${L1_ORIGIN}${key}`;

/** L1 lookup: the live entry, or undefined. */
export async function l1Get(key: string, now: number): Promise<StoredEntry | undefined> {
  try {
    const hit = await l1Cache()?.match(l1Url(key));
    if (!hit) return undefined;
    const json = await hit.text();
    const entry = live(safeJson(json), now);
    return entry ? { entry, json } : undefined;
  } catch {
    return undefined;
  }
}

/** L1 write with a TTL (seconds). */
export async function l1Put(key: string, json: string, ttlS: number): Promise<void> {
  try {
    await l1Cache()?.put(l1Url(key), new Response(json, { headers: { 'content-type': 'application/json', 'cache-control': `max-age=${ttlS}` } }));
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
export async function l2Get(store: Store, key: string, now: number, timeoutMs: number, keep?: KeepStoreCall): Promise<StoredEntry | undefined> {
  return l2Read(store, key, now, timeoutMs, keep).catch(() => undefined);
}

/**
 * Where a store call that may still be in flight when its request answers goes: the request's
 * `waitUntil`. In workerd a subrequest still running when its request ends is cancelled, and a
 * cancelled subrequest costs its connection (the next store call opens a new one: a TLS handshake
 * to Upstash). A lookup that lost its race to the backend, or passed its deadline, is such a call.
 */
export type KeepStoreCall = (call: Promise<unknown>) => void;

/** {@link l2Get} that rejects when the store failed or ran out of time, so a caller can tell an outage from a miss. */
export async function l2Read(store: Store, key: string, now: number, timeoutMs: number, keep?: KeepStoreCall): Promise<StoredEntry | undefined> {
  const call = store.getex<unknown>(`${L2_PREFIX}${key}`);
  // Its failure is the caller's to handle (below); the kept promise only has to settle.
  keep?.(call.catch(() => {}));
  const raw = await withDeadline(call, timeoutMs, 'the L2 cache');
  // The client parses JSON values itself; a string is an entry it could not parse.
  const entry = live(typeof raw === 'string' ? safeJson(raw) : raw, now);
  return entry ? { entry, json: JSON.stringify(entry) } : undefined;
}

async function l2Put(store: Store, key: string, json: string, ttlS: number): Promise<void> {
  try {
    await store.set(`${L2_PREFIX}${key}`, json, { ex: ttlS });
  } catch {
    // A failed store write only costs a future miss.
  }
}

/** Where {@link storeEntry} writes. */
export interface CacheTargets {
  readonly store: Store;
  readonly l0: MemoryTier;
  /** L0's memory budget (bytes); 0 keeps nothing in L0. */
  readonly l0Bytes: number;
  readonly now: number;
}

/** How long an isolate's batch of L2 writes stays open for more answers' writes (ms). */
export const L2_WRITE_LINGER_MS = 20;
/** L2 writes per batch at most (one pipelined store request). */
const MAX_L2_WRITES = 50;

interface L2Write {
  readonly store: Store;
  readonly key: string;
  readonly json: string;
  readonly ttlS: number;
}

/** This isolate's open batch of L2 writes (services/linger-batch.ts). */
const l2Writes = new LingerBatcher<L2Write>(L2_WRITE_LINGER_MS, MAX_L2_WRITES);

/**
 * Sends a batch of L2 writes on a later turn than the answer being built (never ahead of it). Issued
 * in one turn, the SETs ride in one store request (the client's auto-pipeline).
 */
const sendL2Writes = (writes: readonly L2Write[]) => nextTurn(async () => void (await Promise.all(writes.map((w) => l2Put(w.store, w.key, w.json, w.ttlS)))));

/** An answer's way into L2. */
export interface StoredWrite {
  /** The batch's write when this request is to send it (hand it to `waitUntil`); undefined when another request sends it. */
  readonly send: Promise<void> | undefined;
  /** Settles once the entry's batch has been written, whoever sent it (plain-data follow-ups only: services/cross-request.ts). */
  readonly landed: Promise<void>;
}

/**
 * Stores a fresh answer for `ttlS` seconds: in L0 at once, in L2 with the isolate's other answers of
 * the next {@link L2_WRITE_LINGER_MS} (one store request for all, where each answer made one).
 * L1 (the
 * location's cache) admits an entry on its second sighting, when an isolate reads it from L2
 * (stages/response-cache.ts): most answers are asked for once, and a Cache API put per miss is the
 * dearest part of a miss in workerd (about 2 ms of CPU under Miniflare, a subrequest in Cloudflare)
 * spent mostly on entries nobody reads. Entries over {@link MAX_ENTRY_BYTES} are not stored (undefined).
 */
export function storeEntry(targets: CacheTargets, key: string, answer: CacheEntry, ttlS: number): StoredWrite | undefined {
  const entry: CacheEntry = { ...answer, expiresAt: targets.now + ttlS * 1000 };
  const json = JSON.stringify(entry);
  const bytes = storedBytes(json);
  if (bytes > MAX_ENTRY_BYTES) return undefined;
  targets.l0.set(key, entry, bytes, targets.l0Bytes, targets.now);
  const send = l2Writes.add('l2', { store: targets.store, key, json, ttlS }, sendL2Writes);
  return { send, landed: send ?? l2Writes.whenSent('l2') ?? Promise.resolve() };
}
