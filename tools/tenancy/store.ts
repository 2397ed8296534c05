/**
 * The store as the tenancy tools use it: the narrow slice of an @upstash/redis client they call,
 * JSON reads that work whether or not the client deserialises automatically, an atomic
 * compare-and-set for read-modify-write updates, and the error the tools raise for expected failures.
 */
import type { Redis } from '@upstash/redis';

/** The Redis commands the tenancy tools use (an @upstash/redis client, Node or Workers build). */
export type TenancyStore = Pick<Redis, 'get' | 'mget' | 'set' | 'sadd' | 'smembers' | 'eval' | 'multi' | 'pipeline'>;

/**
 * What went wrong: NOT_FOUND (no such tenant or key), CONFLICT (exists already, wrong state, or
 * lost a race too often), INVALID (the requested value breaks the schema), MALFORMED (a stored
 * record does not parse).
 */
export type TenancyErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'MALFORMED';

/** An expected failure of a tenancy operation; its message is one line, safe to show an operator. */
export class TenancyError extends Error {
  override readonly name = 'TenancyError';

  constructor(
    readonly code: TenancyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A stored value as JSON: clients with automatic deserialisation hand back objects, others strings. */
export function fromStored(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** Writes are always explicit JSON strings, so the stored bytes do not depend on the client's settings. */
export function toStored(value: unknown): string {
  return JSON.stringify(value);
}

// Returns the value with a digest of its exact bytes; the digest is the version a CAS compares.
const READ_VERSIONED = `local v = redis.call('GET', KEYS[1])
if not v then return nil end
return {redis.sha1hex(v), v}`;

const COMPARE_AND_SET = `local v = redis.call('GET', KEYS[1])
if not v or redis.sha1hex(v) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`;

const MAX_CAS_ATTEMPTS = 10;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Atomically replaces the JSON value at `key` with `update(current)`: reads it with a version,
 * writes only if nobody changed it meanwhile, and retries on a race. Upstash's REST API has no
 * WATCH, so the check-and-write runs as one Lua script. `update` returns the new value, or
 * undefined to leave the value as it is. Returns the value before and after, or null if the key is
 * absent; throws CONFLICT after repeated lost races.
 */
export async function updateJson<T>(
  store: TenancyStore,
  key: string,
  parse: (raw: unknown) => T,
  update: (current: T) => T | undefined,
): Promise<{ readonly before: T; readonly after: T } | null> {
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const read = await store.eval<[], [unknown, unknown] | null>(READ_VERSIONED, [key], []);
    if (read === null) return null;
    const [version, raw] = read;
    const before = parse(fromStored(raw));
    const after = update(before);
    if (after === undefined) return { before, after: before };
    const written = await store.eval<[string, string], number>(COMPARE_AND_SET, [key], [String(version), toStored(after)]);
    if (written === 1) return { before, after };
    // A random pause spreads out writers that keep colliding.
    await sleep(5 + Math.random() * 20 * (attempt + 1));
  }
  throw new TenancyError('CONFLICT', `${key} keeps changing under concurrent updates; try again`);
}
