/**
 * CloudWatch PutMetricData encoding for the edge's aggregated series (Query protocol, form-encoded
 * POST, API version 2010-08-01). Each series is published with `Environment` alone and with every
 * breakdown set the metrics catalog lists for its metric (CloudWatch does not sum across dimension
 * sets), latencies as `Values`/`Counts` so p50/p95/p99 work, and requests are split to respect the
 * API limits: ≤ 1000 datums per call, ≤ 150 distinct values per datum, ≤ 1 MB per payload.
 */
import { EDGE_NAMESPACE, EdgeDimension as D, EdgeMetric as E } from '../../shared/metrics-catalog';
import type { EdgeDimensionName, EdgeMetricName, MetricSeries } from './metrics';

/**
 * Breakdown dimension sets of each metric, on top of `Environment` (shared/metrics-catalog.ts).
 * A metric not listed is published with `Environment` alone.
 */
export const DIMENSION_SETS: Readonly<Partial<Record<EdgeMetricName, readonly (readonly EdgeDimensionName[])[]>>> = {
  [E.Requests]: [[], [D.StatusClass], [D.Route, D.StatusClass], [D.Code]],
  [E.Latency]: [[], [D.Route]],
  [E.UpstreamLatency]: [[], [D.Backend]],
  [E.CacheHits]: [[], [D.Tier]],
  [E.CacheMisses]: [[]],
  [E.RateLimited]: [[]],
  [E.AuthFailures]: [[]],
  [E.BackendRequests]: [[], [D.Backend, D.Variant]],
  [E.BackendRetries]: [[], [D.Backend]],
  [E.BreakerTransitions]: [[D.State], [D.Backend, D.State]],
  [E.CircuitOpen]: [[], [D.Backend]],
  [E.PromptTokens]: [[]],
  [E.CompletionTokens]: [[]],
  [E.UsageRecords]: [[]],
  [E.UsageCostMicros]: [[]],
  [E.UsageRecordsLost]: [[]],
  [E.QueueBacklog]: [[]],
  [E.DlqBacklog]: [[]],
  [E.EmbeddingBatchSize]: [[], [D.Model]],
  [E.EmbeddingBatchWait]: [[], [D.Model]],
  [E.SchemaMismatches]: [[], [D.Backend]],
};

/** PutMetricData's documented limits. */
export const PUT_METRIC_DATA_LIMITS = { maxDatums: 1000, maxValuesPerDatum: 150, maxPayloadBytes: 1_000_000 } as const;
export type PutMetricDataLimits = { readonly maxDatums: number; readonly maxValuesPerDatum: number; readonly maxPayloadBytes: number };

/** One `MetricDatum`. */
export interface MetricDatum {
  readonly metricName: string;
  readonly dimensions: readonly { readonly name: string; readonly value: string }[];
  /** Epoch ms. */
  readonly timestamp: number;
  readonly unit: 'Milliseconds' | 'Count';
  readonly values: readonly number[];
  readonly counts: readonly number[];
}

const MILLISECOND_METRICS = new Set<string>([E.Latency, E.UpstreamLatency]);
/** CloudWatch's cap on a dimension value is 1024 characters; ours are short, this only guards. */
const MAX_DIMENSION_VALUE = 255;

/**
 * Turns drained series into datums: one per (metric, dimension set, values) after summing counters
 * and merging distributions that project onto the same set; distributions with more than
 * `maxValuesPerDatum` distinct values are split across several datums of the same series.
 */
export function toDatums(
  series: readonly MetricSeries[],
  environment: string,
  timestamp: number,
  maxValuesPerDatum: number = PUT_METRIC_DATA_LIMITS.maxValuesPerDatum,
): MetricDatum[] {
  const merged = new Map<string, { metricName: string; dimensions: { name: string; value: string }[]; values: Map<number, number>; counter: boolean }>();
  for (const s of series) {
    for (const set of DIMENSION_SETS[s.metric] ?? [[]]) {
      const values = set.map((name) => s.dimensions[name]);
      if (values.some((v) => v === undefined || v === '')) continue;
      const dimensions = [
        { name: D.Environment as string, value: environment },
        ...set.map((name, i) => ({ name: name as string, value: values[i]!.slice(0, MAX_DIMENSION_VALUE) })),
      ];
      const key = `${s.metric}|${dimensions.map((d) => `${d.name}=${d.value}`).join('|')}`;
      let entry = merged.get(key);
      if (!entry) {
        entry = { metricName: s.metric, dimensions, values: new Map(), counter: s.kind === 'counter' };
        merged.set(key, entry);
      }
      const target = entry;
      s.values.forEach((v, i) => {
        // Counters keep one value (their sum); distributions keep value → occurrence count.
        if (target.counter) target.values.set(0, (target.values.get(0) ?? 0) + v);
        else target.values.set(v, (target.values.get(v) ?? 0) + (s.counts[i] ?? 1));
      });
    }
  }
  const datums: MetricDatum[] = [];
  for (const e of merged.values()) {
    const unit = MILLISECOND_METRICS.has(e.metricName) ? 'Milliseconds' : 'Count';
    const pairs = e.counter ? [[e.values.get(0) ?? 0, 1] as const] : [...e.values.entries()];
    for (let i = 0; i < pairs.length; i += maxValuesPerDatum) {
      const chunk = pairs.slice(i, i + maxValuesPerDatum);
      datums.push({ metricName: e.metricName, dimensions: e.dimensions, timestamp, unit, values: chunk.map(([v]) => v), counts: chunk.map(([, c]) => c) });
    }
  }
  return datums;
}

const enc = (value: string) => encodeURIComponent(value);

/** The form fields of one datum at 1-based position `n` of a request. */
function encodeDatum(d: MetricDatum, n: number): string {
  const p = `MetricData.member.${n}`;
  const fields = [`${p}.MetricName=${enc(d.metricName)}`, `${p}.Timestamp=${enc(new Date(d.timestamp).toISOString())}`, `${p}.Unit=${d.unit}`];
  for (const [i, dim] of d.dimensions.entries()) {
    fields.push(`${p}.Dimensions.member.${i + 1}.Name=${enc(dim.name)}`, `${p}.Dimensions.member.${i + 1}.Value=${enc(dim.value)}`);
  }
  for (const [i, v] of d.values.entries()) fields.push(`${p}.Values.member.${i + 1}=${v}`);
  for (const [i, c] of d.counts.entries()) fields.push(`${p}.Counts.member.${i + 1}=${c}`);
  return fields.join('&');
}

/** A PutMetricData request body: the form fields for `Action`, `Version`, `Namespace` and datums. */
export function encodePutMetricData(datums: readonly MetricDatum[], namespace: string = EDGE_NAMESPACE): string {
  return [`Action=PutMetricData&Version=2010-08-01&Namespace=${enc(namespace)}`, ...datums.map((d, i) => encodeDatum(d, i + 1))].join('&');
}

/** One request's body and the datums in it (kept for retries). */
export interface PutMetricDataBatch {
  readonly body: string;
  readonly datums: readonly MetricDatum[];
}

/**
 * Packs datums into as few requests as the limits allow, in order: a new request starts when the
 * next datum would exceed `maxDatums` or `maxPayloadBytes` (measured in encoded bytes; the body
 * is ASCII). A single datum over the byte limit is dropped (it cannot be sent at all).
 */
export function batchPutMetricData(
  datums: readonly MetricDatum[],
  namespace: string = EDGE_NAMESPACE,
  limits: PutMetricDataLimits = PUT_METRIC_DATA_LIMITS,
): PutMetricDataBatch[] {
  const header = encodePutMetricData([], namespace);
  const batches: PutMetricDataBatch[] = [];
  let parts: string[] = [];
  let members: MetricDatum[] = [];
  let size = header.length;
  const close = () => {
    if (members.length) batches.push({ body: [header, ...parts].join('&'), datums: members });
    parts = [];
    members = [];
    size = header.length;
  };
  for (const d of datums) {
    let part = encodeDatum(d, members.length + 1);
    if (members.length >= limits.maxDatums || size + 1 + part.length > limits.maxPayloadBytes) {
      close();
      part = encodeDatum(d, 1);
    }
    if (size + 1 + part.length > limits.maxPayloadBytes) continue;
    parts.push(part);
    members.push(d);
    size += 1 + part.length;
  }
  close();
  return batches;
}
