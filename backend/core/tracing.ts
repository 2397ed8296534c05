/**
 * The adapter's traces, with the OpenTelemetry JS SDK: one invocation is a server span continuing
 * the edge's `traceparent` (shared/contracts/trace.ts), with children `parse`, `invoke` (the
 * container call, GenAI conventions) and, for streams, `first_token`. The container continues the
 * `invoke` span's context (ECS: headers; SageMaker: CustomAttributes). Spans leave through a
 * batch processor to `TRACES_ENDPOINT` (OTLP/HTTP JSON) and are flushed before the invocation ends,
 * bounded by `TRACES_TIMEOUT_MS`: Lambda freezes the environment after that, so nothing may be left
 * in a buffer.
 *
 * Without a collector the SDK is never loaded (no init cost, no object per invocation): the context
 * passes through unchanged (the container and the logs still see the trace id) and nothing is
 * recorded. With one, it is loaded with the first invocation (core/tracing-sdk.ts).
 */
import type { FinishReason } from '../../shared/contracts/backend';
import type { Usage } from '../../shared/contracts/infer';
import { newSpanId, newTraceId, parseTraceparent, TRACEPARENT_HEADER, TRACESTATE_HEADER, type TraceContext } from '../../shared/contracts/trace';
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
  begin(headers: Readonly<Record<string, string | undefined>> | undefined): Promise<InvocationTrace>;
  /** Sends every ended span; resolves within the timeout, never rejects. */
  flush(): Promise<void>;
}

/** The caller's valid trace context, if any. */
export const incomingContext = (headers: Readonly<Record<string, string | undefined>> | undefined) =>
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
export const TRACING_OFF: AdapterTracing = { begin: async (headers) => passthroughTrace(headers), flush: async () => {} };

/** Tracing for the adapter `serviceName`; off (the SDK never loaded) without an endpoint. */
export function createTracing(serviceName: string, settings: TracingSettings): AdapterTracing {
  if (!settings.endpoint) return TRACING_OFF;
  const endpoint = settings.endpoint;
  // Loaded once, with the first invocation; a failure to load leaves tracing off rather than the adapter down.
  let loaded: Promise<AdapterTracing> | undefined;
  const sdk = () => {
    loaded ??= import('./tracing-sdk').then(
      (m) => m.sdkTracing(serviceName, { ...settings, endpoint }),
      () => TRACING_OFF,
    );
    return loaded;
  };
  return {
    begin: async (headers) => (await sdk()).begin(headers),
    flush: async () => (loaded ? (await loaded).flush() : undefined),
  };
}
