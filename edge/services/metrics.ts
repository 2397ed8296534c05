/**
 * Edge metrics, aggregated in the isolate: counters and latency distributions keyed by metric name
 * and a bounded set of dimensions (shared/metrics-catalog.ts). Recording is synchronous and cheap;
 * a flusher (PutMetricData, or the local sink) drains the aggregate from `waitUntil`, off the
 * request's critical path.
 */
import type { EdgeMetric, EdgeDimension } from '../../shared/metrics-catalog';

export type EdgeMetricName = (typeof EdgeMetric)[keyof typeof EdgeMetric];
export type EdgeDimensionName = (typeof EdgeDimension)[keyof typeof EdgeDimension];
export type Dimensions = Partial<Record<EdgeDimensionName, string>>;

/** What callers use: count something, or observe a value (ms for latencies). */
export interface MetricsRecorder {
  count(metric: EdgeMetricName, dimensions?: Dimensions, value?: number): void;
  observe(metric: EdgeMetricName, value: number, dimensions?: Dimensions): void;
}

/** One aggregated series, ready to publish. */
export interface MetricSeries {
  readonly metric: EdgeMetricName;
  readonly dimensions: Dimensions;
  /** Counters: one value (the sum) with count 1. Distributions: distinct values and their counts. */
  readonly values: number[];
  readonly counts: number[];
  readonly kind: 'counter' | 'distribution';
}

/** Most distinct series kept between flushes; past it new series are dropped (and counted). */
export const MAX_SERIES = 2_000;
/** Distinct values kept per distribution; latencies are rounded to keep this small. */
const MAX_VALUES_PER_SERIES = 150;

/** The series key: the metric and its dimensions in name order (called on every count and observation). */
function keyOf(metric: string, dimensions: Dimensions): string {
  const names = Object.keys(dimensions) as EdgeDimensionName[];
  // Dimension names are ASCII: the default sort compares code units (localeCompare goes through ICU).
  if (names.length > 1) names.sort();
  let key = `${metric}|`;
  for (let i = 0; i < names.length; i += 1) key += `${i ? ',' : ''}${names[i]}=${dimensions[names[i]!]}`;
  return key;
}

/** Rounds a latency so similar values share a bucket: 1 ms under 100 ms, then ~2 % relative. */
function bucket(value: number): number {
  if (value < 100) return Math.round(value);
  const step = 10 ** Math.floor(Math.log10(value)) / 50;
  return Math.round(value / step) * step;
}

export class IsolateMetrics implements MetricsRecorder {
  #series = new Map<string, { metric: EdgeMetricName; dimensions: Dimensions; kind: 'counter' | 'distribution'; values: Map<number, number> }>();
  #dropped = 0;

  count(metric: EdgeMetricName, dimensions: Dimensions = {}, value = 1): void {
    const series = this.#get(metric, dimensions, 'counter');
    if (series) series.values.set(0, (series.values.get(0) ?? 0) + value);
  }

  observe(metric: EdgeMetricName, value: number, dimensions: Dimensions = {}): void {
    if (!Number.isFinite(value)) return;
    const series = this.#get(metric, dimensions, 'distribution');
    if (!series) return;
    const b = bucket(value);
    if (series.values.size >= MAX_VALUES_PER_SERIES && !series.values.has(b)) return;
    series.values.set(b, (series.values.get(b) ?? 0) + 1);
  }

  /** Series dropped because {@link MAX_SERIES} was reached since the last drain. */
  get dropped(): number {
    return this.#dropped;
  }

  get size(): number {
    return this.#series.size;
  }

  /** Takes everything recorded since the last drain. */
  drain(): MetricSeries[] {
    const out: MetricSeries[] = [];
    for (const s of this.#series.values()) {
      if (s.kind === 'counter') out.push({ metric: s.metric, dimensions: s.dimensions, kind: 'counter', values: [s.values.get(0) ?? 0], counts: [1] });
      else out.push({ metric: s.metric, dimensions: s.dimensions, kind: 'distribution', values: [...s.values.keys()], counts: [...s.values.values()] });
    }
    this.#series = new Map();
    this.#dropped = 0;
    return out;
  }

  #get(metric: EdgeMetricName, dimensions: Dimensions, kind: 'counter' | 'distribution') {
    const key = keyOf(metric, dimensions);
    let series = this.#series.get(key);
    if (!series) {
      if (this.#series.size >= MAX_SERIES) {
        this.#dropped++;
        return undefined;
      }
      series = { metric, dimensions: { ...dimensions }, kind, values: new Map() };
      this.#series.set(key, series);
    }
    return series;
  }
}
