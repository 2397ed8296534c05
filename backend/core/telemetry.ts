/**
 * Logs and metrics for one invocation, from its {@link InvocationOutcome}: one structured log line
 * (request_id, tenant_id, model, backend, latency, tokens; never the prompt or output unless
 * payload logging is explicitly on, and then only at DEBUG) and CloudWatch EMF metrics whose
 * dimensions stay bounded: `service` (the adapter), `model` (configured models only, else
 * `unknown`), and `error_code` on the Errors metric. No tenant id as a dimension.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { InvocationOutcome } from './handle-invoke';

/** The logger calls used here (a Powertools Logger fits). */
export type LogSink = Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;

/** The metrics calls used here (a Powertools Metrics fits). */
export interface MetricsSink {
  addDimension(name: string, value: string): unknown;
  addMetric(name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): unknown;
  /** Flushes the stored metrics as one EMF document and clears metrics and dimensions. */
  publishStoredMetrics(): unknown;
}

/** Where logs and metrics go, and whether payloads may be logged. */
export interface TelemetryDeps {
  readonly logger: LogSink;
  readonly metrics: MetricsSink;
  /** Log prompts and outputs (DEBUG level). Off unless explicitly configured. */
  readonly logPayloads: boolean;
}

/** The metric names, as they appear in CloudWatch. */
export const METRIC = {
  requests: 'Requests',
  errors: 'Errors',
  latency: 'Latency',
  modelLatency: 'ModelLatency',
  timeToFirstToken: 'TimeToFirstToken',
  tokensIn: 'TokensIn',
  tokensOut: 'TokensOut',
  clientDisconnects: 'ClientDisconnects',
} as const;

/** The structured fields of the invocation's log line. */
export function logFields(o: InvocationOutcome): Record<string, unknown> {
  const cause = o.error?.cause;
  return {
    request_id: o.requestId,
    tenant_id: o.tenantId,
    model: o.model,
    backend: o.backend,
    target: o.target,
    stream: o.stream,
    status: o.status,
    latency_ms: o.latencyMs,
    model_latency_ms: o.modelLatencyMs,
    ttft_ms: o.ttftMs,
    prompt_tokens: o.usage?.prompt_tokens,
    completion_tokens: o.usage?.completion_tokens,
    finish_reason: o.finishReason,
    token_events: o.tokenEvents,
    ...(o.error
      ? {
          error_code: o.error.code,
          error_name: o.error.name,
          reason: o.error.reason,
          upstream_status: o.error.upstreamStatus,
          mid_stream: o.midStream,
          cause_name: cause instanceof Error ? cause.name : undefined,
          // Operator-only detail (SDK / container message), capped; clients never see it.
          cause_message: cause instanceof Error ? cause.message.slice(0, 300) : undefined,
        }
      : {}),
  };
}

/** Writes the log line and the metrics of one invocation. */
export function recordOutcome(o: InvocationOutcome, deps: TelemetryDeps): void {
  const fields = logFields(o);
  // Name and message of the cause are in `fields`; the Error itself (and its stack) is never logged.
  if (o.status === 500) deps.logger.error('invoke failed', fields);
  else if (o.error && o.status !== 499) deps.logger.warn(o.midStream ? 'invoke failed mid-stream' : 'invoke failed', fields);
  else deps.logger.info(o.status === 499 ? 'invoke cancelled by the caller' : 'invoke', fields);
  if (deps.logPayloads && o.request) {
    const input = 'prompt' in o.request ? { prompt: o.request.prompt } : { messages: o.request.messages };
    deps.logger.debug('invoke payload', { request_id: o.requestId, ...input, output: o.output });
  }

  const model = o.modelKnown && o.model ? o.model : 'unknown';
  const m = deps.metrics;
  m.addDimension('model', model);
  m.addMetric(METRIC.requests, MetricUnit.Count, 1);
  m.addMetric(METRIC.latency, MetricUnit.Milliseconds, o.latencyMs);
  if (o.modelLatencyMs !== undefined) m.addMetric(METRIC.modelLatency, MetricUnit.Milliseconds, o.modelLatencyMs);
  if (o.ttftMs !== undefined) m.addMetric(METRIC.timeToFirstToken, MetricUnit.Milliseconds, o.ttftMs);
  if (o.usage) {
    m.addMetric(METRIC.tokensIn, MetricUnit.Count, o.usage.prompt_tokens);
    m.addMetric(METRIC.tokensOut, MetricUnit.Count, o.usage.completion_tokens);
  }
  if (o.status === 499) m.addMetric(METRIC.clientDisconnects, MetricUnit.Count, 1);
  m.publishStoredMetrics();

  // A second document on the same instance (a Powertools singleMetric() would re-read the
  // environment and ignore this instance's settings): Errors with its own dimension set.
  if (o.error && o.status !== 499) {
    m.addDimension('model', model);
    m.addDimension('error_code', o.error.code);
    m.addMetric(METRIC.errors, MetricUnit.Count, 1);
    m.publishStoredMetrics();
  }
}
