/**
 * Failure injection for the reference model server: which fault, if any, an invocation meets —
 * a dead container (every connection dropped), the warming window, a forced status, or the
 * reproducible error rate.
 */
import type { ServerResponse } from 'node:http';
import type { BehaviourConfig, ForcedStatus, ModelServerConfig, WarmingStyle } from './config';

/** The admin API stays reachable whatever the fault, so a test can always clear it. */
const ADMIN_PREFIX = '/admin/';

/** Whether a request to `path` meets a dead container (`fault: "reset"`): its connection is dropped unanswered. */
export function dropsConnection(config: ModelServerConfig, path: string): boolean {
  return config.fault === 'reset' && !path.startsWith(ADMIN_PREFIX);
}

/**
 * The connections of a container's requests in flight, so that killing the container drops them
 * mid-answer (a stream stops without its end), as a dead host does.
 */
export class LiveConnections {
  readonly #open = new Set<ServerResponse>();

  /** Tracks `res` until it closes. */
  add(res: ServerResponse): void {
    this.#open.add(res);
    res.once('close', () => this.#open.delete(res));
  }

  /** Destroys the socket of every tracked request; returns how many were dropped. */
  dropAll(): number {
    const dropped = this.#open.size;
    for (const res of this.#open) res.socket?.destroy();
    this.#open.clear();
    return dropped;
  }
}

/** A fault decided before the container sees the request. */
export type FrontFault =
  | { readonly kind: 'warming'; readonly style: WarmingStyle; readonly retryAfterSeconds: number }
  | { readonly kind: 'forced'; readonly status: ForcedStatus; readonly retryAfterSeconds: number };

/** The warming window or forced status in effect at `now`, warming first; null when none. */
export function frontFault(behaviour: BehaviourConfig, now: number): FrontFault | null {
  if (behaviour.warmingUntil !== null && now < behaviour.warmingUntil) {
    return { kind: 'warming', style: behaviour.warmingStyle, retryAfterSeconds: Math.max(1, Math.ceil((behaviour.warmingUntil - now) / 1000)) };
  }
  if (behaviour.forcedStatus !== null) {
    return { kind: 'forced', status: behaviour.forcedStatus, retryAfterSeconds: behaviour.retryAfterSeconds };
  }
  return null;
}

const MAX_TARGETS = 1000;

/**
 * The error rate made reproducible: a counter per target (endpoint name or model), and the n-th
 * valid invocation of a target fails when ⌊n·rate⌋ > ⌊(n−1)·rate⌋ — rate 0.5 fails the 2nd, 4th,
 * 6th…; rate 0.25 every 4th; rate 1 all. No randomness, so a test can say which call fails.
 */
export class ErrorRateCounter {
  /** Per-target invocation counts; capped, past the cap new targets share one sequence. */
  private readonly counts = new Map<string, number>();

  /** Counts one invocation of `target` and says whether it must fail. */
  hit(target: string, rate: number): boolean {
    const key = this.counts.has(target) || this.counts.size < MAX_TARGETS ? target : '(other)';
    const n = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, n);
    if (rate <= 0) return false;
    const epsilon = 1e-9;
    return Math.floor(n * rate + epsilon) > Math.floor((n - 1) * rate + epsilon);
  }

  reset(): void {
    this.counts.clear();
  }
}
