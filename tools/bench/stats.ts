/**
 * Latency statistics of the bench: percentiles over merged samples (nearest rank), a summary per
 * subject and mode, and the comparisons the report makes (added latency over the floor, ratios).
 */

/** p50/p95/p99 and friends of a set of samples, in ms; throughput in requests per second. */
export interface LatencySummary {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
  /** Responses per second over the measured time (all rounds together). */
  readonly rps: number;
}

/** Nearest-rank percentile of sorted samples (`q` in 0..100); NaN for none. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((q / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Summarises samples collected over `seconds` of load. */
export function summarize(samples: readonly number[], seconds: number): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    mean: round(sorted.length ? sum / sorted.length : Number.NaN),
    max: round(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
    rps: round(seconds > 0 ? sorted.length / seconds : 0, 1),
  };
}

/** Per round, `a[i] − b[i]` (rounds paired by index, in the order they ran; rounds without a partner left out), rounded. */
export function pairedDifferences(a: readonly number[], b: readonly number[]): number[] {
  return a.slice(0, b.length).map((x, i) => round(x - b[i]!));
}

/** The median (the mean of the two middle values for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length / 2;
  return round(Number.isInteger(mid) ? (sorted[mid - 1]! + sorted[mid]!) / 2 : sorted[Math.floor(mid)]!);
}

/** Rounds to `digits` decimals (3 by default: microseconds when the unit is ms). */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** `a / b`, rounded, or null when either side is missing or b is not positive. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return null;
  return round(a / b, 2);
}
