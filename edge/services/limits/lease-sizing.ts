/**
 * How large a quota lease is: enough for a few seconds of this isolate's recent demand, never more
 * than a small share of what the window still has, and nothing speculative at all near the limit
 * (each request then takes exactly its own units from the store: the exact per-request path).
 * Pure: the clock and the demand are inputs.
 */

/** The knobs of quota leases. */
export interface LeasePolicy {
  /** Largest share (0..1) of what remains in a window one isolate's lease may hold ahead of demand. */
  readonly share: number;
  /** A lease covers this much of the isolate's recent demand (ms). */
  readonly horizonMs: number;
  /** Smallest speculative lease, in requests' worth of units. */
  readonly minRequests: number;
  /** Unused units go back to the store after this long without a request (ms). */
  readonly idleMs: number;
}

/** 10 % of what remains, 5 s of demand, at least 8 requests' worth, returned after 2 s idle. */
export const DEFAULT_LEASE_POLICY: LeasePolicy = { share: 0.1, horizonMs: 5_000, minRequests: 8, idleMs: 2_000 };

/** Checks a policy once, at construction (a bad value is a programming error, not a request's). */
export function checkLeasePolicy(policy: LeasePolicy): LeasePolicy {
  const ok =
    policy.share >= 0 && policy.share <= 1 && policy.horizonMs >= 0 && Number.isInteger(policy.minRequests) && policy.minRequests >= 0 && policy.idleMs > 0;
  if (!ok) throw new RangeError('lease policy: share in [0, 1], horizonMs ≥ 0, minRequests a whole number ≥ 0, idleMs > 0');
  return policy;
}

/**
 * The recent demand of one tenant window in one isolate: an exponentially decaying rate (units
 * handed out per ms, time constant `tauMs`) and the mean units one request takes. A meter that has
 * watched a run of demand for less than its time constant has seen only part of it; its rate is
 * corrected for that (divided by 1 − e^(−watched/τ), watched counted as at least τ/5, so a first
 * request or two never reads as a flood), so a tenant's first second is not served by a string of
 * minimum leases, each a store command.
 */
export class DemandMeter {
  readonly #tauMs: number;
  #rate = 0;
  #at = 0;
  #since = 0;
  #meanNeed = 0;

  constructor(tauMs = 5_000) {
    this.#tauMs = tauMs;
  }

  /** Counts `units` handed out to one request at `now`. */
  record(units: number, now: number): void {
    // A run of demand starts with the first request, or after a pause the meter has mostly forgotten.
    if (this.#rate === 0 || now - this.#at > this.#tauMs) this.#since = now;
    this.#rate = this.#decayed(now) + units / this.#tauMs;
    this.#at = now;
    this.#meanNeed = this.#meanNeed === 0 ? units : 0.8 * this.#meanNeed + 0.2 * units;
  }

  /** Units per ms at `now`: a steady rate λ reads λ, from a fifth of τ into a run of demand on. */
  rateAt(now: number): number {
    const raw = this.#decayed(now);
    if (raw === 0) return 0;
    const watched = Math.max(now - this.#since, this.#tauMs / 5);
    return raw / (1 - Math.exp(-watched / this.#tauMs));
  }

  /** Each unit weighs e^(−age/τ)/τ: the plain decaying rate, before the correction. */
  #decayed(now: number): number {
    if (this.#rate === 0) return 0;
    return this.#rate * Math.exp(-Math.max(0, now - this.#at) / this.#tauMs);
  }

  /** Mean units per request, or `fallback` before the first one. */
  meanNeed(fallback: number): number {
    return this.#meanNeed === 0 ? fallback : this.#meanNeed;
  }
}

/**
 * Units a lease should hold right after a refill: the larger of `minRequests` requests' worth and
 * `horizonMs` of demand, capped at `share` of `remaining` (what the window still has, this
 * isolate's unused units included). 0 near the limit, where `remaining · share` < 1.
 */
export function leaseTarget(policy: LeasePolicy, meter: DemandMeter, now: number, remaining: number, need: number): number {
  const demand = Math.max(policy.minRequests * meter.meanNeed(need), meter.rateAt(now) * policy.horizonMs);
  const cap = Math.floor(Math.max(0, remaining) * policy.share);
  return Math.min(Math.ceil(demand), cap);
}
