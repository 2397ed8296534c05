/**
 * Request coalescing within an isolate: the first cache-eligible miss for a key leads (calls the
 * backend), identical misses arriving while it runs follow (wait for its answer instead of calling
 * the backend). A leader that fails or is cancelled rejects its followers at once; a follower then
 * makes its own call (see edge/stages/response-cache.ts), so a failed leader never poisons or hangs anyone.
 */
import type { CacheEntry } from './entry';

export interface Leadership {
  /**
   * Hands the answer to every follower at once. The answer stays available to late arrivals until
   * `stored` settles (the cache write), closing the gap between the answer and its cache entry.
   */
  resolve(entry: CacheEntry, stored?: Promise<unknown>): void;
  /** Tells the followers the leader has no answer for them. */
  reject(reason: Error): void;
}

export class LeaderFailedError extends Error {
  override readonly name = 'LeaderFailedError';
}

export class Coalescer {
  // In flight only: an entry lives from the leader's start to its answer or failure.
  readonly #inflight = new Map<string, Promise<CacheEntry>>();

  /** The leader's answer to wait for when an identical request is in flight, else undefined. */
  follow(key: string): Promise<CacheEntry> | undefined {
    return this.#inflight.get(key);
  }

  /** Registers the caller as the leader for `key` (the caller checked {@link follow} first). */
  lead(key: string): Leadership {
    let resolve!: (entry: CacheEntry) => void;
    let reject!: (reason: Error) => void;
    const promise = new Promise<CacheEntry>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Followers attach their own handlers; this one keeps a leader without followers from
    // surfacing an unhandled rejection.
    promise.catch(() => {});
    this.#inflight.set(key, promise);
    let done = false;
    const finish = () => {
      done = true;
      if (this.#inflight.get(key) === promise) this.#inflight.delete(key);
    };
    return {
      resolve: (entry, stored) => {
        if (done) return;
        done = true;
        resolve(entry);
        if (stored) void stored.finally(finish);
        else finish();
      },
      reject: (reason) => {
        if (done) return;
        finish();
        reject(reason);
      },
    };
  }
}
