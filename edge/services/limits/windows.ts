/**
 * The windows a tenant is limited by (SPEC §3/§4: requests per minute, hour and day; tokens per
 * minute and day) and the @upstash/ratelimit limiter behind each one. Every window is a fixed
 * window: its Lua script increments by the given rate and compares in one atomic step (a negative
 * rate gives units back), so takes against a remaining allowance of L never admit more than L,
 * across every isolate and location. Isolates take those units in leases (lease.ts).
 */
import { Ratelimit } from '@upstash/ratelimit';
import type { Redis } from '@upstash/redis/cloudflare';
import type { EffectivePlan } from '../../../shared/plans';
import type { Store } from '../store';

export type WindowKind = 'requests' | 'tokens';
export type WindowName = 'minute' | 'hour' | 'day';

/** One limit of a tenant's plan. */
export interface LimitWindow {
  readonly kind: WindowKind;
  readonly name: WindowName;
  readonly limit: number;
  readonly seconds: number;
}

/** What a window said about one request. `reset` is the end of the window (epoch ms). */
export interface WindowState {
  readonly window: LimitWindow;
  readonly success: boolean;
  readonly remaining: number;
  readonly reset: number;
}

const SECONDS: Record<WindowName, number> = { minute: 60, hour: 3_600, day: 86_400 };

/** The plan's request windows then its token windows, in a fixed order. */
export function windowsFor(plan: EffectivePlan): LimitWindow[] {
  const w = (kind: WindowKind, name: WindowName, limit: number): LimitWindow => ({ kind, name, limit, seconds: SECONDS[name] });
  return [
    w('requests', 'minute', plan.requestsPerMinute),
    w('requests', 'hour', plan.requestsPerHour),
    w('requests', 'day', plan.requestsPerDay),
    w('tokens', 'minute', plan.tokensPerMinute),
    w('tokens', 'day', plan.tokensPerDay),
  ];
}

/** End of the window's current bucket (epoch ms), as the library's fixed window computes it from the clock. */
export function bucketEnd(window: LimitWindow, now: number): number {
  const ms = window.seconds * 1000;
  return (Math.floor(now / ms) + 1) * ms;
}

/** The Redis identifier of a tenant's window (the limiter appends the window's bucket number). */
export function identifierOf(window: LimitWindow, tenantId: string): string {
  return `${window.kind}:${window.name}:${tenantId}`;
}

/** Key prefix of every limiter key in Redis. */
export const LIMIT_KEY_PREFIX = 'gw:rl';

// Limiters outlive a request on purpose: one per store, window and limit value, reused by every
// request of the isolate (a limit change by the operator simply selects another instance).
const limiters = new WeakMap<Store, Map<string, Ratelimit>>();

/**
 * The limiter for a window. The ephemeral cache of the library is off: a tenant's block spans
 * several windows and carries its headers, so the gate keeps its own (edge/services/limits/block-list.ts).
 * The library's own timeout is off too (it would let requests pass silently): the gate applies the
 * configured outage policy instead.
 */
export function limiterFor(store: Store, window: LimitWindow): Ratelimit {
  let byWindow = limiters.get(store);
  if (!byWindow) {
    byWindow = new Map();
    limiters.set(store, byWindow);
  }
  const id = `${window.kind}:${window.seconds}:${window.limit}`;
  let limiter = byWindow.get(id);
  if (!limiter) {
    limiter = new Ratelimit({
      // The single-region fixed window calls only EVALSHA (and EVAL after NOSCRIPT), both in Store.
      redis: store as unknown as Redis,
      limiter: Ratelimit.fixedWindow(window.limit, `${window.seconds} s`),
      prefix: LIMIT_KEY_PREFIX,
      ephemeralCache: false,
      timeout: 0,
      analytics: false,
    });
    if (byWindow.size >= 1_000) byWindow.clear();
    byWindow.set(id, limiter);
  }
  return limiter;
}
