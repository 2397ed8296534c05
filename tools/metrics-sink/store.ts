/**
 * The local metrics sink's memory: datapoints as CloudWatch would store them (namespace, metric
 * name, exact dimension set, timestamp, values with counts), bounded by count, and the statistics
 * the dashboard asks for (Sum, Maximum, Average, pNN) computed from values and counts the way
 * CloudWatch computes them from a statistic set's raw values.
 */

/** One published datapoint (a PutMetricData datum, or one metric of an EMF document). */
export interface Datapoint {
  readonly namespace: string;
  readonly metric: string;
  /** The exact dimension set: a series is identified by all of its dimensions. */
  readonly dimensions: Readonly<Record<string, string>>;
  /** Epoch ms. */
  readonly timestamp: number;
  readonly values: readonly number[];
  readonly counts: readonly number[];
  readonly unit?: string;
  readonly source: 'put-metric-data' | 'emf';
}

/** Most datapoints kept; the oldest go first. */
export const MAX_DATAPOINTS = 200_000;

/** A filter over the store: namespace and metric, and the exact dimension names a series has. */
export interface SeriesQuery {
  readonly namespace: string;
  readonly metric: string;
  /** Dimension names the datapoints must have, no more, no fewer. */
  readonly dimensionNames: readonly string[];
  /** Dimension values the datapoints must match. */
  readonly where?: Readonly<Record<string, string>>;
  readonly since?: number;
}

export class MetricStore {
  #points: Datapoint[] = [];
  readonly #max: number;

  constructor(max = MAX_DATAPOINTS) {
    this.#max = max;
  }

  add(points: readonly Datapoint[]): void {
    this.#points.push(...points);
    if (this.#points.length > this.#max) this.#points = this.#points.slice(-this.#max);
  }

  get size(): number {
    return this.#points.length;
  }

  /** Every datapoint (newest last), optionally only those of a namespace. */
  all(namespace?: string): readonly Datapoint[] {
    return namespace ? this.#points.filter((p) => p.namespace === namespace) : this.#points;
  }

  /** Datapoints of one series family: same namespace, metric and dimension names. */
  select(q: SeriesQuery): Datapoint[] {
    const names = [...q.dimensionNames].sort().join('|');
    return this.#points.filter(
      (p) =>
        p.namespace === q.namespace &&
        p.metric === q.metric &&
        (q.since === undefined || p.timestamp >= q.since) &&
        Object.keys(p.dimensions).sort().join('|') === names &&
        Object.entries(q.where ?? {}).every(([k, v]) => p.dimensions[k] === v),
    );
  }
}

/** A statistic over datapoints; undefined when there are none. */
export function statistic(points: readonly Datapoint[], stat: string): number | undefined {
  if (points.length === 0) return undefined;
  let sum = 0;
  let samples = 0;
  let max = Number.NEGATIVE_INFINITY;
  const weighted: Array<[number, number]> = [];
  for (const p of points) {
    p.values.forEach((v, i) => {
      const c = p.counts[i] ?? 1;
      sum += v * c;
      samples += c;
      max = Math.max(max, v);
      weighted.push([v, c]);
    });
  }
  if (samples === 0) return undefined;
  if (stat === 'Sum') return sum;
  if (stat === 'Maximum') return max;
  if (stat === 'Average') return sum / samples;
  if (stat === 'SampleCount') return samples;
  const pct = /^p(\d+(?:\.\d+)?)$/.exec(stat);
  if (!pct) throw new Error(`unsupported statistic ${stat}`);
  weighted.sort(([a], [b]) => a - b);
  const rank = Math.max(1, Math.ceil((Number(pct[1]) / 100) * samples));
  let seen = 0;
  for (const [v, c] of weighted) {
    seen += c;
    if (seen >= rank) return v;
  }
  return weighted.at(-1)?.[0];
}
