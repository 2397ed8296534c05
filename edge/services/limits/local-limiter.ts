/**
 * The in-isolate fallback limiter used while the store is unreachable (fail-open policy): the same
 * fixed windows and limits as the plan, counted in this isolate only. It keeps one isolate from
 * serving unlimited traffic during an outage; it cannot be exact across isolates, which is why it
 * is only the fallback.
 */
import { TtlCache } from '../ttl-cache';
import { identifierOf, type LimitWindow, type WindowState } from './windows';

export class LocalLimiter {
  readonly #now: () => number;
  // Counters outlive a request on purpose: they are the limit while Redis is down. Bounded by size and day.
  readonly #counters: TtlCache<number>;

  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#counters = new TtlCache({ maxEntries: 20_000, ttlMs: 86_400_000, now });
  }

  /**
   * Checks every window and counts the request (1 per request window, `tokens` per token window)
   * only when all of them admit it: one synchronous step, so it is exact within the isolate. A
   * window's count starts from `known(window, reset)` when given: what the store last said was used
   * in that bucket, so the limit is not granted afresh in the middle of a window.
   */
  admit(tenantId: string, windows: readonly LimitWindow[], tokens: number, known?: (window: LimitWindow, reset: number) => number | undefined): WindowState[] {
    const now = this.#now();
    const slots = windows.map((window) => {
      const bucket = Math.floor(now / (window.seconds * 1000));
      const key = `${identifierOf(window, tenantId)}:${bucket}`;
      const rate = window.kind === 'requests' ? 1 : tokens;
      const reset = (bucket + 1) * window.seconds * 1000;
      return { window, key, rate, used: Math.max(this.#counters.get(key) ?? 0, known?.(window, reset) ?? 0), reset };
    });
    const success = slots.every((s) => s.used + s.rate <= s.window.limit);
    return slots.map((s) => {
      const used = success ? s.used + s.rate : s.used;
      if (success) this.#counters.set(s.key, used, s.reset - now);
      return { window: s.window, success: s.used + s.rate <= s.window.limit, remaining: Math.max(0, s.window.limit - used), reset: s.reset };
    });
  }
}
