/**
 * Whether a miss's backend call starts beside its L1/L2 read instead of after it.
 *
 * A lookup that L0 cannot answer reads L1 (this location) and L2 (the store, one round trip: a few
 * ms near the store, tens of ms from a far location). On a miss, that round trip is added to the
 * request before its backend call starts. Where this isolate's lookups rarely hit, the stage starts
 * the backend call at once and lets the first answer win (stages/forward.ts): a hit that lands
 * before the backend's answer (or a stream's first event) answers the request and cancels the call;
 * otherwise the backend's answer is served and the lookup is ignored.
 *
 * The cost of being wrong is a backend call cancelled about one store round trip after it started,
 * on at most the configured share of lookups (`CACHE_SPECULATE_BELOW`, default 2 %): the isolate
 * speculates only while the hit ratio of its recent lookups (an exponentially weighted window of
 * about {@link WINDOW} lookups, once it has seen {@link MIN_LOOKUPS}) stays below that share.
 * Cancellation reaches the container on the ECS adapter (the model server's request is aborted);
 * a SageMaker endpoint may finish a cancelled generation, which is why the share is small and
 * can be set to 0 (never speculate).
 */

/** Lookups the ratio mostly reflects (the weight of a lookup halves about every 0.7 × this many). */
const WINDOW = 200;
/** Lookups an isolate must have seen before it speculates. */
export const MIN_LOOKUPS = 50;

const DECAY = 1 - 1 / WINDOW;

/** The hit ratio of this isolate's recent L1/L2 lookups. */
export class LookupHitRatio {
  #hits = 0;
  #weight = 0;
  #seen = 0;

  /** Counts one finished lookup. */
  record(hit: boolean): void {
    this.#hits = this.#hits * DECAY + (hit ? 1 : 0);
    this.#weight = this.#weight * DECAY + 1;
    this.#seen++;
  }

  /** The weighted share of recent lookups that hit (0 before any). */
  ratio(): number {
    return this.#weight === 0 ? 0 : this.#hits / this.#weight;
  }

  /** Whether a miss's backend call should start beside its lookup: recent lookups hit less often than `below` (0 never). */
  speculate(below: number): boolean {
    return below > 0 && this.#seen >= MIN_LOOKUPS && this.ratio() < below;
  }
}
