/**
 * The isolate's quota leases, one per store, tenant and window. Bounded: past
 * {@link MAX_LEASES} the least recently used lease is dropped; by then it has been idle long
 * enough to have given its unused units back (an active one dropped anyway keeps its idle watch,
 * which still returns them).
 */
import type { Store } from '../store';
import { TtlCache } from '../ttl-cache';
import { Lease, type LeaseClock } from './lease';
import type { LeasePolicy } from './lease-sizing';
import { identifierOf, type LimitWindow } from './windows';

const MAX_LEASES = 50_000;
const DAY_MS = 86_400_000;

export class LeaseBook {
  readonly #policy: LeasePolicy;
  readonly #clock: LeaseClock;
  // Outlives a request on purpose: the leases are the point (no store round trip for a warm tenant).
  readonly #byStore = new WeakMap<Store, TtlCache<Lease>>();

  constructor(policy: LeasePolicy, clock: LeaseClock) {
    this.#policy = policy;
    this.#clock = clock;
  }

  /** The lease of this tenant window in this isolate (created empty on first use). */
  lease(store: Store, tenantId: string, window: LimitWindow): Lease {
    let leases = this.#byStore.get(store);
    if (!leases) {
      leases = new TtlCache({ maxEntries: MAX_LEASES, ttlMs: DAY_MS, now: this.#clock.now });
      this.#byStore.set(store, leases);
    }
    const id = identifierOf(window, tenantId);
    let lease = leases.get(id);
    if (!lease) {
      lease = new Lease(window, this.#policy, this.#clock);
      leases.set(id, lease);
    }
    return lease;
  }
}
