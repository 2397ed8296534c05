/**
 * A cheap per-IP flood guard for unauthenticated traffic: failed authentications (401 on the API,
 * bad webhook signatures) are counted per client IP in the isolate; past the limit in a minute, the
 * IP is answered 429 before auth runs, so a flood of bad keys costs neither a key lookup in Redis
 * nor hashing. Counting stays in the isolate on purpose: it must cost nothing per request, and a
 * flood large enough to matter lands on the same isolates anyway. It is not a quota.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../errors';
import { getConfig, type AppEnv } from '../env';
import { TtlCache } from '../services/ttl-cache';

export interface IpLimitOptions {
  /** Failures per IP per minute; defaults to config `IP_FAILED_AUTH_PER_MINUTE`. */
  readonly perMinute?: number;
  readonly now?: () => number;
}

const WINDOW_MS = 60_000;

/** The client's IP as Cloudflare reports it. */
export function clientIp(headers: { get(name: string): string | null }): string {
  return headers.get('cf-connecting-ip') ?? headers.get('x-real-ip') ?? 'unknown';
}

export function ipLimit(options: IpLimitOptions = {}): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now;
  if (options.perMinute !== undefined && !(Number.isInteger(options.perMinute) && options.perMinute > 0))
    throw new RangeError('ipLimit: perMinute must be a positive integer');
  // Outlives a request on purpose: failure counts per IP and minute, bounded in size and age.
  const failures = new TtlCache<number>({ maxEntries: 50_000, ttlMs: WINDOW_MS, now });
  return async function ipLimitMiddleware(c, next) {
    const limit = options.perMinute ?? getConfig(c.env).limits.ipFailedAuthPerMinute;
    const t = now();
    const windowEnd = (Math.floor(t / WINDOW_MS) + 1) * WINDOW_MS;
    const key = `${clientIp(c.req.raw.headers)}:${windowEnd}`;
    const count = failures.get(key) ?? 0;
    if (count >= limit) {
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
