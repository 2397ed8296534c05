/**
 * The edge's traces: one request's spans (the server span, a child per measured phase) built from
 * what the request already measured (Server-Timing's phases, the settlement), encoded as OTLP/HTTP
 * JSON (shared/contracts/otlp.ts) and posted to the environment's collector from `waitUntil`. The
 * Worker runs no OpenTelemetry SDK: a span is a record, an export one bounded fetch. An export never
 * throws: a slow, failing or absent collector costs the request nothing. Requests do not export one
 * by one: an isolate's {@link SpanBatcher} gathers what its requests finish within a short linger
 * and sends it in one request (an SDK's batch processor, without its timer thread), so a request's
 * own path only queues a builder and the collector sees one POST per batch, not per request.
 */
import { encodeOtlpTraces, SPAN_KIND, type SpanAttributeValue, type SpanRecord } from '../../shared/contracts/otlp';
import { GEN_AI_SYSTEM, newSpanId, newTraceId, SPAN_ATTR as A, type TraceContext } from '../../shared/contracts/trace';
import type { Config } from '../env';
import type { MeasuredPhase } from '../middleware/server-timing';
import { LingerBatcher } from './linger-batch';
import { describeError, log } from './log';

/** The edge's service name in traces. */
export const EDGE_SERVICE_NAME = 'inference-gateway-edge';
const SCOPE = 'edge';

/** One request's place in its trace, fixed when the request arrives. */
export interface RequestTrace {
  readonly traceId: string;
  /** The edge's server span. */
  readonly spanId: string;
  /** The client's span, when it sent a valid `traceparent`. */
  readonly parentSpanId?: string | undefined;
  /** The `upstream` span: the parent of the adapter's spans. */
  readonly upstreamSpanId: string;
  readonly sampled: boolean;
  readonly tracestate?: string | undefined;
  /** Epoch ms at arrival, and the phase clock's reading at the same moment (phases are on that clock). */
  readonly startedAt: number;
  readonly clockAt: number;
}

/** Joins the client's trace, or starts one (sampled at `ratio`, the client's flag deciding for its own trace). */
export function startRequestTrace(incoming: TraceContext | undefined, ratio: number, startedAt: number, clockAt: number): RequestTrace {
  return {
    traceId: incoming?.traceId ?? newTraceId(),
    spanId: newSpanId(),
    parentSpanId: incoming?.spanId,
    upstreamSpanId: newSpanId(),
    sampled: incoming ? incoming.sampled : ratio >= 1 || Math.random() < ratio,
    tracestate: incoming?.tracestate,
    startedAt,
    clockAt,
  };
}

/** True when this request's spans go to a collector. */
export function isExported(trace: RequestTrace, config: Config | undefined): config is Config & { traces: { endpoint: string } } {
  return trace.sampled && config?.traces.endpoint !== undefined;
}

/**
 * The context the adapter continues: under the edge's `upstream` span when the edge exports its
 * spans, else under the client's own span (no dangling parent), else under a fresh id.
 */
export function nextHopContext(trace: RequestTrace, config: Config | undefined): TraceContext {
  const spanId = isExported(trace, config) ? trace.upstreamSpanId : (trace.parentSpanId ?? trace.upstreamSpanId);
  return { traceId: trace.traceId, spanId, sampled: trace.sampled, tracestate: trace.tracestate };
}

/**
 * The context a queued job's upstream call continues, later and elsewhere: under the submitting
 * request's server span when the edge exports its spans (a submission has no `upstream` span), else
 * under the client's own span, else under a fresh id.
 */
export function queuedContext(trace: RequestTrace, config: Config | undefined): TraceContext {
  const spanId = isExported(trace, config) ? trace.spanId : (trace.parentSpanId ?? trace.upstreamSpanId);
  return { traceId: trace.traceId, spanId, sampled: trace.sampled, tracestate: trace.tracestate };
}

/** What the request's server span says about it (GenAI conventions where they apply). */
export interface RequestFacts {
  readonly name: string;
  readonly endedAt: number;
  readonly attributes: Readonly<Record<string, SpanAttributeValue | undefined>>;
  readonly error?: string | undefined;
  /** Attributes of the `upstream` span (the GenAI client call). */
  readonly upstream?: Readonly<Record<string, SpanAttributeValue | undefined>>;
}

/** The request's spans: the server span and one child per measured phase. */
export function requestSpans(trace: RequestTrace, phases: readonly MeasuredPhase[], facts: RequestFacts): SpanRecord[] {
  const epoch = (clock: number) => trace.startedAt + (clock - trace.clockAt);
  const root: SpanRecord = {
    traceId: trace.traceId,
    spanId: trace.spanId,
    parentSpanId: trace.parentSpanId,
    name: facts.name,
    kind: SPAN_KIND.server,
    startMs: trace.startedAt,
    endMs: facts.endedAt,
    attributes: facts.attributes,
    error: facts.error,
  };
  const children = phases.map(
    (p): SpanRecord => ({
      traceId: trace.traceId,
      spanId: p.phase === 'upstream' ? trace.upstreamSpanId : newSpanId(),
      parentSpanId: trace.spanId,
      name: p.phase,
      kind: p.phase === 'upstream' ? SPAN_KIND.client : SPAN_KIND.internal,
      startMs: epoch(p.start),
      endMs: epoch(p.end),
      attributes: p.phase === 'upstream' ? { ...facts.upstream } : p.desc ? { [p.phase === 'cache' ? A.cache : 'gateway.outcome']: p.desc } : {},
    }),
  );
  return [root, ...children];
}

/** The GenAI attributes every span about a model call carries. */
export function genAiAttributes(model: string | undefined, operation: string): Record<string, SpanAttributeValue | undefined> {
  return { [A.genAiSystem]: GEN_AI_SYSTEM, [A.genAiOperation]: operation, [A.genAiRequestModel]: model };
}

/** Where and how long to export. */
export interface TraceTarget {
  readonly endpoint: string;
  readonly timeoutMs: number;
  readonly environment: string;
}

/** How long an isolate's batch of spans stays open for more requests' spans (ms). */
export const SPAN_BATCH_LINGER_MS = 100;
/** Spans per export request at most (an OTLP collector's usual batch). */
export const MAX_SPANS_PER_EXPORT = 512;
/** Requests per batch: a batch that reaches this many leaves at once. */
export const MAX_REQUESTS_PER_BATCH = 100;

/** Sends one batch; never rejects ({@link exportSpans}). */
export type SendSpans = (target: TraceTarget, spans: readonly SpanRecord[]) => Promise<void>;

export interface SpanBatcherOptions {
  readonly lingerMs?: number;
  readonly maxSpansPerExport?: number;
  readonly maxRequestsPerBatch?: number;
  readonly send?: SendSpans;
}

/**
 * One isolate's span exports, batched per target (services/linger-batch.ts). A request adds a
 * builder of its spans; the builders run when the batch leaves, off every request's path, on clock
 * readings taken earlier.
 */
export class SpanBatcher {
  readonly #batches: LingerBatcher<() => SpanRecord[]>;
  readonly #maxSpansPerExport: number;
  readonly #send: SendSpans;

  constructor(options: SpanBatcherOptions = {}) {
    this.#batches = new LingerBatcher(options.lingerMs ?? SPAN_BATCH_LINGER_MS, options.maxRequestsPerBatch ?? MAX_REQUESTS_PER_BATCH);
    this.#maxSpansPerExport = options.maxSpansPerExport ?? MAX_SPANS_PER_EXPORT;
    this.#send = options.send ?? ((target, spans) => exportSpans(target, spans));
  }

  /** Queues one request's spans for `target`; the batch's export when this call is to send it (hand it to `waitUntil`), else undefined. */
  add(target: TraceTarget, build: () => SpanRecord[]): Promise<void> | undefined {
    return this.#batches.add(`${target.environment} ${target.endpoint}`, build, async (builders) => {
      const spans = builders.flatMap((b) => b());
      for (let i = 0; i < spans.length; i += this.#maxSpansPerExport) await this.#send(target, spans.slice(i, i + this.#maxSpansPerExport));
    });
  }
}

/** Sends `spans` in one OTLP/HTTP JSON request within the target's timeout; logs and swallows every failure. */
export async function exportSpans(target: TraceTarget, spans: readonly SpanRecord[], fetchFn: typeof fetch = fetch): Promise<void> {
  const body = encodeOtlpTraces({ serviceName: EDGE_SERVICE_NAME, environment: target.environment }, SCOPE, spans);
  const traceIds = new Set(spans.map((s) => s.traceId)).size;
  try {
    const res = await fetchFn(target.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(target.timeoutMs),
    });
    // Read to the end, not cancelled: a cancelled body costs the connection, so every export (one per
    // batch) would open a new one to the collector (measured: 90 in 10 s of load, now none).
    await res.arrayBuffer();
    if (!res.ok) log('warn', 'trace export rejected', { spans: spans.length, traces: traceIds, status: res.status });
  } catch (err) {
    log('warn', 'trace export failed', { spans: spans.length, traces: traceIds, timeout_ms: target.timeoutMs, ...describeError(err) });
  }
}
