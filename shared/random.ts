/**
 * Random bytes for identifiers (trace and span ids, ULIDs), drawn from a pool that WebCrypto's
 * CSPRNG fills 4 KiB at a time: a request makes several ids, and each `getRandomValues` is a call
 * into the runtime, so one call now serves about a hundred requests. Every byte is handed out once.
 * Not for secrets: those take their bytes from `crypto.getRandomValues` directly.
 */

const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let next = 0;

/** `count` fresh random bytes (at most the pool's size; larger asks go to WebCrypto directly). */
export function randomBytes(count: number): Uint8Array {
  if (count > POOL_BYTES) return crypto.getRandomValues(new Uint8Array(count));
  if (next + count > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    next = 0;
  }
  const out = pool.slice(next, next + count);
  next += count;
  return out;
}
