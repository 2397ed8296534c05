/**
 * The isolate's ephemeral block list: a tenant refused by a request window is answered 429 from
 * here, with the denial's headers, without a store round trip. An entry lasts until the denying
 * window resets, but at most {@link BLOCK_RECHECK_MS}: other isolates give their unused lease units
 * back when idle, so a blocked isolate asks the store again now and then. An entry only applies to
 * the limits it was refused under: a new plan is asked about at once.
 */
import { TtlCache } from '../ttl-cache';
import type { LimitWindow, WindowState } from './windows';

/** Longest time a block is trusted before the store is asked again (ms). */
export const BLOCK_RECHECK_MS = 5_000;

export class BlockList {
  readonly #now: () => number;
  // Outlives a request on purpose: it is what spares the store for blocked tenants.
  readonly #entries: TtlCache<readonly WindowState[]>;

  constructor(now: () => number) {
    this.#now = now;
    this.#entries = new TtlCache({ maxEntries: 10_000, ttlMs: BLOCK_RECHECK_MS, now });
  }

  /** The stored denial while the tenant is blocked, whatever its plan. */
  peek(tenantId: string): readonly WindowState[] | undefined {
    return this.#entries.get(tenantId);
  }

  /** The stored denial when it was made under these windows' limits; a stale one is dropped. */
  get(tenantId: string, windows: readonly LimitWindow[]): readonly WindowState[] | undefined {
    const states = this.#entries.get(tenantId);
    if (!states) return undefined;
    const same = states.every((s) => windows.some((w) => w.kind === s.window.kind && w.name === s.window.name && w.limit === s.window.limit));
    if (same) return states;
    this.#entries.delete(tenantId);
    return undefined;
  }

  /** Blocks the tenant when a request window refused it (a token refusal depends on the request's size). */
  refuse(tenantId: string, states: readonly WindowState[]): void {
    const resets = states.filter((s) => s.window.kind === 'requests' && !s.success).map((s) => s.reset);
    if (resets.length === 0) return;
    const ttl = Math.max(...resets) - this.#now();
    if (ttl > 0) this.#entries.set(tenantId, states, ttl);
  }
}
