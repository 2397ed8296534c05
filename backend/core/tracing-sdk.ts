/**
 * The OpenTelemetry SDK half of core/tracing.ts, loaded only when a collector is configured: the
 * provider (parent-based ratio sampler, batch processor, OTLP/HTTP JSON exporter) and one
 * invocation's spans.
 */
import { createTraceState, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, type Tracer, TraceFlags, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import type { FinishReason } from '../../shared/contracts/backend';
import type { Usage } from '../../shared/contracts/infer';
import { GEN_AI_SYSTEM, SPAN_ATTR as A, type TraceContext } from '../../shared/contracts/trace';
import type { AdapterError } from './errors';
import { type AdapterTracing, incomingContext, type InvocationTrace, type TracingSettings } from './tracing';

/** The SDK's tracing for the adapter `serviceName`, exporting to `settings.endpoint`. */
export function sdkTracing(serviceName: string, settings: TracingSettings & { readonly endpoint: string }): AdapterTracing {
  const { endpoint } = settings;
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
    begin: async (headers) => invocationTrace(tracer, incomingContext(headers)),
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
