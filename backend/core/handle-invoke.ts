/**
 * The adapter's request path as a plain function: a Function URL event and a response sink in, the
 * answer written to the sink and an {@link InvocationOutcome} (for logs and metrics) out. Sync
 * requests get JSON; streamed ones the SSE contract; failures before the first byte get status +
 * BackendError JSON. Never throws. Transport-free, so tests call it without Lambda.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import type { BackendInferRequest, FinishReason } from '../../shared/contracts/backend';
import { REASON } from '../../shared/contracts/boundary';
import type { Usage } from '../../shared/contracts/infer';
import { modelFor, type Backend } from './backend';
import { ClientClosedError, NotFoundError, asAdapterError, type AdapterError } from './errors';
import type { ContainerModel } from './formats';
import { invokeSync } from './invoke-sync';
import { streamInference } from './invoke-stream';
import { headerRequestId, parseInvokeEvent } from './request';
import { type InvocationTrace, passthroughTrace } from './tracing';
import { writeError, writeJson, type ResponseSink } from './sink';

/** Everything logs and metrics need about one invocation. Holds the request (prompt) and output: log them only on purpose. */
export interface InvocationOutcome {
  readonly requestId: string | undefined;
  readonly tenantId: string | undefined;
  /** The model as requested (may be unknown to this adapter). */
  readonly model: string | undefined;
  /** The model is configured here (bounded: safe as a metric dimension). */
  readonly modelKnown: boolean;
  readonly backend: Backend['kind'];
  /** Endpoint name / service host, when the model is known. */
  readonly target: string | undefined;
  readonly stream: boolean;
  /** Status sent: 200, the error's status, or 499 when the caller left. */
  readonly status: number;
  readonly error: AdapterError | undefined;
  /** The error went out as an `error` event of a stream already started. */
  readonly midStream: boolean;
  readonly latencyMs: number;
  readonly modelLatencyMs: number | undefined;
  readonly ttftMs: number | undefined;
  readonly usage: Usage | undefined;
  readonly finishReason: FinishReason | undefined;
  readonly tokenEvents: number | undefined;
  readonly request: BackendInferRequest | undefined;
  readonly output: string | undefined;
}

/** Per-invocation context from the Lambda wiring. */
export interface InvokeContext {
  /** Aborts when the caller goes away. */
  readonly signal: AbortSignal;
  readonly now?: () => number;
  /** The invocation's trace (core/tracing.ts); default: the caller's context passed through, nothing recorded. */
  readonly trace?: InvocationTrace;
}

/** Handles one Function URL request end to end. */
export async function handleInvoke<M extends ContainerModel>(
  event: LambdaFunctionURLEvent,
  sink: ResponseSink,
  backend: Backend<M>,
  ctx: InvokeContext,
): Promise<InvocationOutcome> {
  const now = ctx.now ?? (() => performance.now());
  const tracing = ctx.trace ?? passthroughTrace(event.headers);
  const started = now();
  let req: BackendInferRequest | undefined;
  let model: M | undefined;
  const base = () => ({
    requestId: req?.request_id ?? headerRequestId(event),
    tenantId: req?.tenant_id,
    model: req?.model,
    modelKnown: model !== undefined,
    backend: backend.kind,
    target: model ? backend.target(model) : undefined,
    stream: req?.stream ?? false,
    latencyMs: Math.round(now() - started),
    request: req,
  });
  try {
    req = tracing.parse(() => parseInvokeEvent(event));
    model = modelFor(backend, req.model);
    if (!model) throw new NotFoundError(`model '${req.model}' is not configured on this adapter`, { reason: REASON.unknown_model });
    const call = tracing.modelCall({
      model: req.model,
      operation: 'prompt' in req ? 'text_completion' : 'chat',
      target: backend.target(model),
      stream: req.stream,
      maxTokens: req.params.max_tokens,
      temperature: req.params.temperature,
    });
    const meta = { requestId: req.request_id, trace: call.context };
    if (!req.stream) {
      const result = await invokeSync(backend, model, req, ctx.signal, now, meta).catch((err: unknown) => {
        call.end({ error: asAdapterError(err) });
        throw err;
      });
      call.end({ usage: result.usage, finishReason: result.finish_reason });
      await writeJson(sink, 200, result);
      return {
        ...base(),
        status: 200,
        error: undefined,
        midStream: false,
        modelLatencyMs: result.model_latency_ms,
        ttftMs: undefined,
        usage: result.usage,
        finishReason: result.finish_reason,
        tokenEvents: undefined,
        output: result.output,
      };
    }
    const result = await streamInference(backend, model, req, sink, ctx.signal, now, { meta, firstToken: () => call.firstToken() }).catch((err: unknown) => {
      call.end({ error: asAdapterError(err) });
      throw err;
    });
    call.end({ usage: result.usage, finishReason: result.finishReason, error: result.error });
    const cancelled = result.error instanceof ClientClosedError;
    return {
      ...base(),
      status: cancelled ? result.error.status : 200,
      error: result.error,
      midStream: result.error !== undefined && !cancelled,
      modelLatencyMs: result.modelLatencyMs,
      ttftMs: result.ttftMs,
      usage: result.usage,
      finishReason: result.finishReason,
      tokenEvents: result.tokenEvents,
      output: result.output,
    };
  } catch (err) {
    const error = asAdapterError(err);
    if (!(error instanceof ClientClosedError) && !sink.started) await writeError(sink, error).catch(() => {});
    return {
      ...base(),
      status: error.status,
      error,
      midStream: false,
      modelLatencyMs: undefined,
      ttftMs: undefined,
      usage: undefined,
      finishReason: undefined,
      tokenEvents: undefined,
      output: undefined,
    };
  } finally {
    if (!sink.ended) await sink.end().catch(() => {});
  }
}
