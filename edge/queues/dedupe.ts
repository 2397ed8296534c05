/**
 * Webhook dedupe in Redis: a delivery id is claimed with SET NX (so of two concurrent deliveries
 * exactly one enqueues), marked accepted with the first answer after the enqueue, and released if
 * the enqueue fails so the sender's retry can go through. Marks live 24 h per source.
 */
import type { Store } from '../services/store';

/** How long a delivery id is remembered. */
export const DEDUPE_TTL_SECONDS = 24 * 60 * 60;
/** A claim whose holder died is given up after this long (the enqueue takes far less). */
const PENDING_TTL_SECONDS = 60;

interface Mark {
  readonly state: 'pending' | 'accepted';
  readonly token: string;
  readonly bodyHash: string;
  readonly response?: unknown;
}

export type Claim =
  | { readonly kind: 'claimed'; readonly token: string }
  | { readonly kind: 'duplicate'; readonly response: unknown }
  | { readonly kind: 'conflict' }
  | { readonly kind: 'in-flight' };

/** The Redis key of a source's delivery id. */
export const dedupeKey = (source: string, deliveryId: string) => `gw:wh:seen:${source}:${deliveryId}`;

const RELEASE = `local v = redis.call('GET', KEYS[1])
if v and string.find(v, ARGV[1], 1, true) then return redis.call('DEL', KEYS[1]) end
return 0`;

function asMark(raw: unknown): Mark | undefined {
  const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  if (typeof value !== 'object' || value === null) return undefined;
  const m = value as Partial<Mark>;
  return (m.state === 'pending' || m.state === 'accepted') && typeof m.bodyHash === 'string' ? (m as Mark) : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Claims a delivery id. A duplicate of an accepted delivery gets its first answer; one with another
 * body is a conflict; while the first is still enqueueing, this waits briefly for it.
 */
export async function claim(store: Store, key: string, bodyHash: string, waitMs = 3_000): Promise<Claim> {
  const token = crypto.randomUUID();
  const deadline = Date.now() + waitMs;
  for (;;) {
    const mark: Mark = { state: 'pending', token, bodyHash };
    const set = await store.set(key, JSON.stringify(mark), { nx: true, ex: PENDING_TTL_SECONDS });
    if (set === 'OK') return { kind: 'claimed', token };
    const existing = asMark(await store.get<unknown>(key));
    if (existing === undefined) continue; // released or expired in between: claim again
    if (existing.bodyHash !== bodyHash) return { kind: 'conflict' };
    if (existing.state === 'accepted') return { kind: 'duplicate', response: existing.response };
    if (Date.now() >= deadline) return { kind: 'in-flight' };
    await sleep(100);
  }
}

/** Records the first answer for 24 h. */
export async function markAccepted(store: Store, key: string, token: string, bodyHash: string, response: unknown): Promise<void> {
  const mark: Mark = { state: 'accepted', token, bodyHash, response };
  await store.set(key, JSON.stringify(mark), { ex: DEDUPE_TTL_SECONDS });
}

/** Gives the id back (only if this claim still holds it). */
export async function release(store: Store, key: string, token: string): Promise<void> {
  await store.eval(RELEASE, [key], [token]);
}
