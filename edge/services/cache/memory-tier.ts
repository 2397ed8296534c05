/**
 * L0: the response cache inside the isolate, in front of L1 (the location's Cache API) and L2 (the
 * store). A hit costs no I/O at all, so a hot entry is answered without a Cache API read, a store
 * round trip or a JSON parse.
 *
 * Bounded by bytes, not by entries: every entry counts the bytes it is stored as in L1 and L2 (its
 * JSON, UTF-8) plus its key, and a write evicts the least recently used entries until the new one
 * fits the budget, so the total never exceeds it. An entry lives exactly as long as its cache entry
 * (`expiresAt`, set when the answer was first stored and carried through L1 and L2): an entry
 * promoted from L2 never outlives the TTL it was written with. Keys are the cache keys of key.ts,
 * which are tenant-scoped already.
 */
import type { CacheEntry } from './entry';

interface Slot {
  readonly entry: CacheEntry;
  readonly bytes: number;
  readonly expiresAt: number;
}

export class MemoryTier {
  // Outlives a request on purpose: this is the cache. A Map keeps insertion order, which a read
  // refreshes (delete + set), so its first key is always the least recently used.
  readonly #slots = new Map<string, Slot>();
  #bytes = 0;

  /** Bytes held (entries' stored size plus their keys); never above the budget of the last write. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#slots.size;
  }

  /** The live entry for `key` at `now` (ms), or undefined; a hit becomes the most recently used. */
  get(key: string, now: number): CacheEntry | undefined {
    const slot = this.#slots.get(key);
    if (!slot) return undefined;
    this.#slots.delete(key);
    if (slot.expiresAt <= now) {
      this.#bytes -= slot.bytes;
      return undefined;
    }
    this.#slots.set(key, slot);
    return slot.entry;
  }

  /**
   * Holds `entry` (whose stored form is `storedBytes` long) until its `expiresAt`, evicting the least
   * recently used entries to stay within `budgetBytes`. An entry without `expiresAt`, already
   * expired, or larger than the whole budget is not held. Returns whether it was.
   */
  set(key: string, entry: CacheEntry, storedBytes: number, budgetBytes: number, now: number): boolean {
    this.delete(key);
    const bytes = storedBytes + key.length;
    if (entry.expiresAt === undefined || entry.expiresAt <= now || bytes > budgetBytes) {
      this.#shrinkTo(budgetBytes);
      return false;
    }
    this.#shrinkTo(budgetBytes - bytes);
    this.#slots.set(key, { entry, bytes, expiresAt: entry.expiresAt });
    this.#bytes += bytes;
    return true;
  }

  /** Drops `key` if held. */
  delete(key: string): void {
    const slot = this.#slots.get(key);
    if (!slot) return;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
  }

  #shrinkTo(limit: number): void {
    for (const [key, slot] of this.#slots) {
      if (this.#bytes <= limit) return;
      this.#slots.delete(key);
      this.#bytes -= slot.bytes;
    }
  }
}
