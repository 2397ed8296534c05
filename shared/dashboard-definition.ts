/**
 * The dashboard's edge and adapter widgets as plain data: titles, and per widget the series it
 * draws (metric, statistic, label, breakdown dimensions). One definition, two renderers: the CDK
 * construct (cdk/lib/constructs/gateway-dashboard.ts) turns it into CloudWatch widgets, and the
 * local metrics sink (tools/metrics-sink) draws it from the datapoints it collected, so the page a
 * developer watches during `npm start` is the dashboard operators watch in CloudWatch.
 *
 * Pure data over the metrics catalog: no CDK, no node:*, no hono.
 */
import { AdapterMetric as A, EdgeDimension as D, EdgeMetric as E } from './metrics-catalog';

/** Statistics the dashboard uses (CloudWatch spelling). */
export type Statistic = 'Sum' | 'Maximum' | 'Average' | 'p50' | 'p95' | 'p99';

/** An edge metric over the whole environment, or at fixed dimension values (e.g. StatusClass=5xx). */
export interface EdgeMetricSeries {
  readonly kind: 'metric';
  readonly metric: string;
  readonly stat: Statistic;
  readonly label: string;
  readonly dimensions?: Readonly<Record<string, string>>;
}

/** One line per value combination of `by` (a SEARCH in CloudWatch). */
export interface EdgeBreakdownSeries {
  readonly kind: 'breakdown';
  readonly metric: string;
  readonly by: readonly string[];
  readonly stat: Statistic;
  readonly label: string;
}

/** `100 * part / (part + rest)`, missing values as 0 (e.g. the cache hit ratio). */
export interface PercentSeries {
  readonly kind: 'percent';
  readonly label: string;
  readonly part: EdgeMetricSeries;
  readonly rest: EdgeMetricSeries;
}

/** A per-period Sum divided by the period's seconds (e.g. tokens per second). */
export interface PerSecondSeries {
  readonly kind: 'perSecond';
  readonly label: string;
  readonly of: EdgeMetricSeries;
}

/**
 * An adapter EMF metric: per adapter (`service`), one line per model (and per error code for
 * `Errors`). Labels are prefixed with the adapter's service name by the renderers.
 */
export interface AdapterSeries {
  readonly kind: 'adapter';
  readonly metric: string;
  readonly stat: Statistic;
  readonly label: string;
}

export type DashboardSeries = EdgeMetricSeries | EdgeBreakdownSeries | PercentSeries | PerSecondSeries | AdapterSeries;

/** A horizontal line on a graph (an SLO or an alarm threshold). */
export interface Annotation {
  readonly value: number;
  readonly label: string;
  readonly color?: string;
}

/** One graph widget. */
export interface DashboardWidgetSpec {
  readonly title: string;
  readonly left: readonly DashboardSeries[];
  readonly right?: readonly DashboardSeries[];
  readonly annotations?: readonly Annotation[];
}

const m = (metric: string, stat: Statistic, label: string, dimensions?: Record<string, string>): EdgeMetricSeries => ({
  kind: 'metric',
  metric,
  stat,
  label,
  ...(dimensions ? { dimensions } : {}),
});
const by = (metric: string, dims: readonly string[], stat: Statistic, label: string): EdgeBreakdownSeries => ({
  kind: 'breakdown',
  metric,
  by: dims,
  stat,
  label,
});
const adapter = (metric: string, stat: Statistic, label: string): AdapterSeries => ({ kind: 'adapter', metric, stat, label });

/** The edge row: requests, latency percentiles, errors, cache, limits, tokens, backends, circuits, queues. */
export function edgeDashboardWidgets(sloMs = 300): DashboardWidgetSpec[] {
  return [
    {
      title: 'Requests by status class',
      left: [
        m(E.Requests, 'Sum', 'requests'),
        m(E.Requests, 'Sum', '4xx', { [D.StatusClass]: '4xx' }),
        m(E.Requests, 'Sum', '5xx', { [D.StatusClass]: '5xx' }),
      ],
    },
    {
      title: 'Edge latency (ms)',
      left: [m(E.Latency, 'p50', 'p50'), m(E.Latency, 'p95', 'p95'), m(E.Latency, 'p99', 'p99')],
      annotations: [
        { value: sloMs, label: `p95 SLO ${sloMs} ms` },
        { value: 2 * sloMs, label: 'alarm', color: '#d62728' },
      ],
    },
    { title: 'Errors by code', left: [by(E.Requests, [D.Code], 'Sum', 'code')] },
    { title: 'Requests by route and status class', left: [by(E.Requests, [D.Route, D.StatusClass], 'Sum', 'requests')] },
    {
      title: 'Cache hit ratio (%)',
      left: [{ kind: 'percent', label: 'hit ratio', part: m(E.CacheHits, 'Sum', 'hits'), rest: m(E.CacheMisses, 'Sum', 'misses') }],
      right: [by(E.CacheHits, [D.Tier], 'Sum', 'hits')],
    },
    {
      title: 'Rate limited and auth failures',
      left: [
        m(E.RateLimited, 'Sum', 'rate limited (429)'),
        m(E.AuthFailures, 'Sum', 'auth failures'),
        m(E.StoreUnavailable, 'Sum', 'store unavailable (outage policy)'),
      ],
    },
    {
      title: 'Tokens per second',
      left: [
        { kind: 'perSecond', label: 'completion tokens/s', of: m(E.CompletionTokens, 'Sum', 'completion tokens') },
        { kind: 'perSecond', label: 'prompt tokens/s', of: m(E.PromptTokens, 'Sum', 'prompt tokens') },
      ],
    },
    {
      title: 'Usage ledger (totals; per tenant: GET /v1/usage)',
      left: [m(E.UsageRecords, 'Sum', 'records'), m(E.UsageRecordsLost, 'Sum', 'records lost')],
      right: [m(E.UsageCostMicros, 'Sum', 'billed (micro-units)')],
    },
    {
      title: 'Backend / variant split',
      left: [by(E.BackendRequests, [D.Backend, D.Variant], 'Sum', 'requests')],
      right: [m(E.BackendRetries, 'Sum', 'retries')],
    },
    { title: 'Upstream latency p95 by backend (ms)', left: [by(E.UpstreamLatency, [D.Backend], 'p95', 'p95')] },
    {
      title: 'Circuit state (1 = open)',
      left: [by(E.CircuitOpen, [D.Backend], 'Maximum', 'open')],
      right: [by(E.BreakerTransitions, [D.State], 'Sum', 'transitions to')],
    },
    {
      title: 'Embeddings batches: size and wait by model',
      left: [by(E.EmbeddingBatchSize, [D.Model], 'Average', 'inputs per call')],
      right: [by(E.EmbeddingBatchWait, [D.Model], 'p95', 'wait p95 (ms)')],
    },
    { title: 'Queue depth and DLQ size', left: [m(E.QueueBacklog, 'Maximum', 'largest queue backlog'), m(E.DlqBacklog, 'Maximum', 'dead-letter messages')] },
    { title: 'Structured-output schema mismatches by backend', left: [by(E.SchemaMismatches, [D.Backend], 'Sum', 'mismatches')] },
  ];
}

/** The adapters' EMF widgets (the Lambda service metrics next to them exist only in AWS). */
export function adapterEmfWidgets(): DashboardWidgetSpec[] {
  return [
    {
      title: 'Adapter requests and errors by code',
      left: [adapter(A.Requests, 'Sum', 'requests'), adapter(A.Errors, 'Sum', 'errors'), adapter(A.ClientDisconnects, 'Sum', 'client disconnects')],
    },
    {
      title: 'Adapter latency, model latency and time to first token p95 (ms)',
      left: [adapter(A.Latency, 'p95', 'latency p95'), adapter(A.ModelLatency, 'p95', 'model latency p95'), adapter(A.TimeToFirstToken, 'p95', 'TTFT p95')],
    },
    { title: 'Adapter tokens in/out', left: [adapter(A.TokensIn, 'Sum', 'tokens in'), adapter(A.TokensOut, 'Sum', 'tokens out')] },
  ];
}
