/**
 * What the edge knows about each backend's health, kept in the isolate: a circuit breaker (closed →
 * open after N failures in a window → half-open after a cool-down with a single probe → closed on
 * its success) and a warming hold (a backend that said "no capacity / not ready" is left alone
 * until its Retry-After, so one request triggers the warm-up rather than every request).
 *
 * Why the isolate and not Redis: the breaker is consulted on every request, and a Redis read would
 * add a round trip to each of them exactly when the system is under stress; each isolate sees
 * plenty of its own traffic to trip within the first few failures, and a wrongly-closed isolate
 * costs one failed attempt that the fallback absorbs. The state is keyed by backend name, so a
 * shared store could be added behind {@link BackendHealth} later without touching the callers.
 */
import type { BreakerSettings } from '../route-table';

export type BreakerState = 'closed' | 'open' | 'half-open';

/** A state change, for the log and the BreakerTransitions metric. */
export interface Transition {
  readonly backend: string;
  readonly from: BreakerState;
  readonly to: BreakerState;
  readonly failures: number;
}

/** What the routing loop may do with a backend now. */
export type BreakerAdmission =
  | { readonly allowed: true; readonly probe: boolean; readonly transition?: Transition }
  | { readonly allowed: false; readonly reason: 'open' | 'warming'; readonly retryAfterMs: number; readonly detail: string };

/** How an attempt ended, as far as the breaker is concerned. */
export type AttemptVerdict = 'success' | 'failure' | 'neutral';

interface Entry {
  state: BreakerState;
  failures: number[];
  openedAt: number;
  probeSince: number | undefined;
  warmingUntil: number;
  warmingReason: string;
}

/** Most backends tracked; names come from the route table, so this only bounds test churn. */
const MAX_BACKENDS = 1_000;

export class BackendHealth {
  readonly #entries = new Map<string, Entry>();

  #entry(name: string): Entry {
    let e = this.#entries.get(name);
    if (!e) {
      if (this.#entries.size >= MAX_BACKENDS) this.#entries.delete(this.#entries.keys().next().value!);
      e = { state: 'closed', failures: [], openedAt: 0, probeSince: undefined, warmingUntil: 0, warmingReason: '' };
      this.#entries.set(name, e);
    }
    return e;
  }

  /** The current breaker state (open turns half-open only when a request asks, in {@link admit}). */
  state(name: string): BreakerState {
    return this.#entries.get(name)?.state ?? 'closed';
  }

  /** May a request use `name` now? Grants the single half-open probe to the first caller after the cool-down. */
  admit(name: string, settings: BreakerSettings, now: number): BreakerAdmission {
    const e = this.#entry(name);
    if (now < e.warmingUntil) return { allowed: false, reason: 'warming', retryAfterMs: e.warmingUntil - now, detail: e.warmingReason };
    if (e.state === 'closed') return { allowed: true, probe: false };
    const coolDownLeft = e.openedAt + settings.openMs - now;
    if (e.state === 'open') {
      if (coolDownLeft > 0) return { allowed: false, reason: 'open', retryAfterMs: coolDownLeft, detail: 'circuit_open' };
      e.state = 'half-open';
      e.probeSince = now;
      return { allowed: true, probe: true, transition: { backend: name, from: 'open', to: 'half-open', failures: e.failures.length } };
    }
    // Half-open: one probe at a time; a probe that never reported back (its isolate request died) expires.
    if (e.probeSince !== undefined && now - e.probeSince < settings.openMs)
      return { allowed: false, reason: 'open', retryAfterMs: 1_000, detail: 'circuit_half_open' };
    e.probeSince = now;
    return { allowed: true, probe: true };
  }

  /** Records how an attempt ended; returns the transition it caused, if any. */
  record(name: string, outcome: AttemptVerdict, settings: BreakerSettings, now: number): Transition | undefined {
    const e = this.#entry(name);
    if (e.state === 'half-open') {
      if (outcome === 'neutral') {
        e.probeSince = undefined;
        return undefined;
      }
      e.probeSince = undefined;
      if (outcome === 'success') {
        e.state = 'closed';
        e.failures = [];
        return { backend: name, from: 'half-open', to: 'closed', failures: 0 };
      }
      e.state = 'open';
      e.openedAt = now;
      return { backend: name, from: 'half-open', to: 'open', failures: e.failures.length };
    }
    if (outcome !== 'failure' || e.state === 'open') return undefined;
    e.failures = e.failures.filter((t) => now - t < settings.windowMs);
    e.failures.push(now);
    if (e.failures.length < settings.failureThreshold) return undefined;
    e.state = 'open';
    e.openedAt = now;
    return { backend: name, from: 'closed', to: 'open', failures: e.failures.length };
  }

  /** Leaves `name` alone until `until` (it is warming up, `reason` as the adapter said); true when this started the hold. */
  holdWarming(name: string, until: number, now: number, reason: string): boolean {
    const e = this.#entry(name);
    const started = e.warmingUntil <= now;
    e.warmingUntil = Math.max(e.warmingUntil, until);
    e.warmingReason = reason;
    return started;
  }
}
