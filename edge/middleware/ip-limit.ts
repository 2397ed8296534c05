/**
 * A cheap per-IP flood guard for unauthenticated traffic: failed authentications (401 on the API,
 * bad webhook signatures) are counted per client IP in the isolate; past the limit in a minute, the
 * IP is answered 429 before auth runs, so a flood of bad keys costs no key lookup in Redis. Counting
 * stays in the isolate on purpose: it must cost nothing per request, and a flood large enough to
 * matter lands on the same isolates anyway. It is not a quota.
 *
 * The guard spares the store, so it never refuses a request that costs the store nothing: the
 * operator credential (a comparison with config) and an API key this isolate already holds as
 * valid (one SHA-256, no lookup) are served from a tripped address; cold keys are refused until the
 * window ends. The client IP is `CF-Connecting-IP`, which Cloudflare sets on every request in
 * production (a client cannot forge it there); locally (`wrangler dev`, tests) a client-sent value
 * is kept, so there it is client-controlled.
 */
import type { MiddlewareHandler } from 'hono';
import { API_KEY_PATTERN } from '../../shared/contracts/tenancy';
import { ApiError } from '../errors';
import type { AppEnv, Config } from '../env';
import { isUsableKey, type TenantDirectory } from '../services/tenant-directory';
import { TtlCache } from '../services/ttl-cache';
import { isOperatorToken, presentedKey } from './auth';

export interface IpLimitOptions {
  /** Failures per IP per minute; defaults to config `IP_FAILED_AUTH_PER_MINUTE`. */
  readonly perMinute?: number;
  /** The isolate's key cache: keys it holds as valid pass a tripped guard. Without it, only the operator credential does. */
  readonly directory?: TenantDirectory;
  readonly now?: () => number;
}

const WINDOW_MS = 60_000;

/** The client's IP: `CF-Connecting-IP` (set by Cloudflare), else `X-Real-IP`, else `unknown`. */
export function clientIp(headers: { get(name: string): string | null }): string {
  return headers.get('cf-connecting-ip') ?? headers.get('x-real-ip') ?? 'unknown';
}

/** The request carries a credential that authenticates without a store round trip. */
async function passesWithoutStore(headers: Headers, config: Config, directory: TenantDirectory | undefined, now: number): Promise<boolean> {
  const presented = presentedKey(headers.get('authorization') ?? undefined, headers.get('x-api-key') ?? undefined);
  if (presented === undefined) return false;
  if (isOperatorToken(presented, config)) return true;
  if (!directory || !API_KEY_PATTERN.test(presented)) return false;
  const owner = directory.cached(await directory.keyHash(presented));
  return owner != null && isUsableKey(owner, now);
}

export function ipLimit(options: IpLimitOptions = {}): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now;
  if (options.perMinute !== undefined && !(Number.isInteger(options.perMinute) && options.perMinute > 0))
    throw new RangeError('ipLimit: perMinute must be a positive integer');
  // Outlives a request on purpose: failure counts per IP and minute, bounded in size and age.
  const failures = new TtlCache<number>({ maxEntries: 50_000, ttlMs: WINDOW_MS, now });
  return async function ipLimitMiddleware(c, next) {
    const config = c.get('config');
    const limit = options.perMinute ?? config.limits.ipFailedAuthPerMinute;
    const t = now();
    const windowEnd = (Math.floor(t / WINDOW_MS) + 1) * WINDOW_MS;
    const key = `${clientIp(c.req.raw.headers)}:${windowEnd}`;
    const count = failures.get(key) ?? 0;
    if (count >= limit && !(await passesWithoutStore(c.req.raw.headers, config, options.directory, t))) {
      const retryAfter = Math.max(1, Math.ceil((windowEnd - t) / 1000));
      throw new ApiError('RATE_LIMITED', `too many failed authentications from this address; retry after ${retryAfter} s`, {
        details: { retry_after: retryAfter },
        headers: { 'Retry-After': String(retryAfter) },
      });
    }
    await next();
    if (c.res.status === 401) failures.set(key, (failures.get(key) ?? 0) + 1, windowEnd - t);
  };
}
