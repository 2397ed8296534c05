/**
 * The adapter's traces, with the OpenTelemetry JS SDK: one invocation is a server span continuing
 * the edge's `traceparent` (shared/contracts/trace.ts), with children `parse`, `invoke` (the
 * container call, GenAI conventions) and, for streams, `first_token`. The container continues the
 * `invoke` span's context (ECS: headers; SageMaker: CustomAttributes). Spans leave through a
 * batch processor to `TRACES_ENDPOINT` (OTLP/HTTP JSON) and are flushed before the invocation ends,
 * bounded by `TRACES_TIMEOUT_MS`: Lambda freezes the environment after that, so nothing may be left
 * in a buffer.
 *
 * Without a collector no SDK object is created: the context passes through unchanged (the container
 * and the logs still see the trace id) and nothing is recorded.
 */
import { createTraceState, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, TraceFlags, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { FinishReason } from '../../shared/contracts/backend';
import type { Usage } from '../../shared/contracts/infer';
import {
  GEN_AI_SYSTEM,
  newSpanId,
  newTraceId,
  parseTraceparent,
  SPAN_ATTR as A,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  type TraceContext,
} from '../../shared/contracts/trace';
import type { AdapterError } from './errors';

/** Where and how the adapter exports its spans (backend/config/env.ts). */
export interface TracingSettings {
  /** The collector's traces URL; undefined: tracing off. */
  readonly endpoint?: string | undefined;
  /** Bound on one export and on the flush at the end of an invocation (ms). */
  readonly timeoutMs: number;
  /** Share of new traces sampled; a caller's `traceparent` decides for its own. */
  readonly sampleRatio: number;
  /** `deployment.environment.name` of the spans. */
  readonly environment: string;
}

/** What the container call's span records when it ends. */
export interface ModelCallResult {
  readonly usage?: Usage | undefined;
  readonly finishReason?: FinishReason | undefined;
  readonly error?: AdapterError | undefined;
}

/** The container call of one invocation. */
export interface ModelCallTrace {
  /** The context the container continues. */
  readonly context: TraceContext;
  /** The first token arrived (streams). */
  firstToken(): void;
  end(result: ModelCallResult): void;
}

/** What the invocation's server span records when it ends. */
export interface InvocationSummary {
  readonly requestId: string | undefined;
  readonly tenantId: string | undefined;
  readonly model: string | undefined;
  readonly status: number;
  readonly stream: boolean;
  readonly usage: Usage | undefined;
  readonly error: AdapterError | undefined;
}

/** What the container call is about. */
export interface ModelCallInfo {
  readonly model: string;
  readonly operation: 'chat' | 'text_completion';
  readonly target: string | undefined;
  readonly stream: boolean;
  readonly maxTokens?: number | undefined;
  readonly temperature?: number | undefined;
}

/** One invocation's trace. */
export interface InvocationTrace {
  /** For the logs. */
  readonly traceId: string;
  /** Runs `fn` in the `parse` span. */
  parse<T>(fn: () => T): T;
  /** Starts the container call's span. */
  modelCall(info: ModelCallInfo): ModelCallTrace;
  end(summary: InvocationSummary): void;
}

/** The adapter's tracing, one per execution environment. */
export interface AdapterTracing {
  /** Starts an invocation's trace from the caller's headers. */
  begin(headers: Readonly<Record<string, string | undefined>> | undefined): InvocationTrace;
  /** Sends every ended span; resolves within the timeout, never rejects. */
  flush(): Promise<void>;
}

const incomingContext = (headers: Readonly<Record<string, string | undefined>> | undefined) =>
  parseTraceparent(headers?.[TRACEPARENT_HEADER], headers?.[TRACESTATE_HEADER]);

/** No collector: the caller's context goes to the container unchanged, nothing is recorded. */
export function passthroughTrace(headers: Readonly<Record<string, string | undefined>> | undefined): InvocationTrace {
  const context = incomingContext(headers) ?? { traceId: newTraceId(), spanId: newSpanId(), sampled: false };
  return {
    traceId: context.traceId,
    parse: (fn) => fn(),
    modelCall: () => ({ context, firstToken: () => {}, end: () => {} }),
    end: () => {},
  };
}

/** Tracing off: contexts pass through, nothing is recorded or sent. */
export const TRACING_OFF: AdapterTracing = { begin: passthroughTrace, flush: async () => {} };

/** Tracing for the adapter `serviceName`; off (no SDK objects) without an endpoint. */
export function createTracing(serviceName: string, settings: TracingSettings): AdapterTracing {
  const { endpoint } = settings;
  if (!endpoint) return TRACING_OFF;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'deployment.environment.name': settings.environment }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: endpoint, timeoutMillis: settings.timeoutMs }), {
        // Flushed at the end of each invocation; the timer only matters for a span left behind.
        scheduledDelayMillis: 60_000,
        exportTimeoutMillis: settings.timeoutMs,
        maxExportBatchSize: 512,
      }),
    ],
  });
  const tracer = provider.getTracer(serviceName);
  return {
    begin: (headers) => invocationTrace(tracer, incomingContext(headers)),
    flush: async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, settings.timeoutMs + 100);
      });
      await Promise.race([provider.forceFlush().catch(() => {}), bound]);
      clearTimeout(timer);
    },
  };
}

function invocationTrace(tracer: Tracer, incoming: TraceContext | undefined): InvocationTrace {
  const parent = incoming
    ? trace.setSpanContext(ROOT_CONTEXT, {
        traceId: incoming.traceId,
        spanId: incoming.spanId,
        traceFlags: incoming.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
        isRemote: true,
        ...(incoming.tracestate ? { traceState: createTraceState(incoming.tracestate) } : {}),
      })
    : ROOT_CONTEXT;
  const root = tracer.startSpan('POST /invoke', { kind: SpanKind.SERVER }, parent);
  const under = trace.setSpan(ROOT_CONTEXT, root);
  return {
    traceId: root.spanContext().traceId,
    parse(fn) {
      const span = tracer.startSpan('parse', {}, under);
      try {
        return fn();
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        span.end();
      }
    },
    modelCall(info) {
      const genAi = {
        [A.genAiSystem]: GEN_AI_SYSTEM,
        [A.genAiOperation]: info.operation,
        [A.genAiRequestModel]: info.model,
        [A.stream]: info.stream,
        ...(info.target ? { [A.serverAddress]: info.target } : {}),
        ...(info.maxTokens !== undefined ? { [A.genAiRequestMaxTokens]: info.maxTokens } : {}),
        ...(info.temperature !== undefined ? { [A.genAiRequestTemperature]: info.temperature } : {}),
      };
      root.setAttributes(genAi);
      const call = tracer.startSpan('invoke', { kind: SpanKind.CLIENT, attributes: genAi }, under);
      const started = performance.now();
      const firstToken = info.stream ? tracer.startSpan('first_token', {}, trace.setSpan(ROOT_CONTEXT, call)) : undefined;
      const sc = call.spanContext();
      return {
        context: {
          traceId: sc.traceId,
          spanId: sc.spanId,
          sampled: (sc.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
          tracestate: incoming?.tracestate,
        },
        firstToken() {
          if (!firstToken?.isRecording()) return;
          call.setAttribute(A.ttftMs, Math.round(performance.now() - started));
          firstToken.end();
        },
        end(result) {
          if (firstToken?.isRecording()) {
            // No token ever came: the span ends with the call, marked as such.
            firstToken.setStatus({ code: SpanStatusCode.ERROR, message: 'no first token' });
            firstToken.end();
          }
          setUsage(call, result.usage, result.finishReason);
          failWith(call, result.error);
          call.end();
        },
      };
    },
    end(s) {
      root.setAttributes({
        [A.httpStatus]: s.status,
        [A.stream]: s.stream,
        ...(s.requestId ? { [A.requestId]: s.requestId } : {}),
        ...(s.tenantId ? { [A.tenantId]: s.tenantId } : {}),
        ...(s.model ? { [A.genAiRequestModel]: s.model } : {}),
      });
      setUsage(root, s.usage, undefined);
      failWith(root, s.status === 499 ? undefined : s.error);
      root.end();
    },
  };
}

function setUsage(span: Span, usage: Usage | undefined, finishReason: FinishReason | undefined): void {
  if (usage) span.setAttributes({ [A.genAiInputTokens]: usage.prompt_tokens, [A.genAiOutputTokens]: usage.completion_tokens });
  if (finishReason) span.setAttribute(A.genAiResponseFinishReasons, [finishReason]);
}

function failWith(span: Span, error: AdapterError | undefined): void {
  if (!error) return;
  span.setAttribute(A.errorCode, error.code);
  if (error.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}
