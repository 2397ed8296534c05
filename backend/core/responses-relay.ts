/**
 * The relay path, `POST` {@link RESPONSES_RELAY_PATH}: one Responses API call passed to a model
 * server that serves the Responses API itself (vLLM's `/v1/responses`, an `openai-chat` model of
 * the ECS adapter), for models the edge's route table marks `responses: "native"`. The body goes
 * as the client sent it (the edge resolved `previous_response_id`), with the container's model id
 * and `store: false`: the gateway stores responses, not the container.
 *
 * A whole answer is checked to be a response object and passed on. A stream is re-framed event by
 * event (so an adapter failure can follow a whole event) and ends after the first final event;
 * the status line is committed with the first event, so failures before it are answered as status
 * + BackendError JSON, and after it as one {@link RESPONSES_RELAY_FAILURE} event. First-event and
 * idle timeouts apply as on the invoke path; leaving early aborts the upstream call.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { REASON, SSE_HEADERS, isEventStream } from '../../shared/contracts/boundary';
import {
  BackendResponsesRequestSchema,
  RESPONSES_FINAL_EVENTS,
  RESPONSES_RELAY_FAILURE,
  RESPONSES_RELAY_PATH,
  type BackendResponsesRequest,
} from '../../shared/contracts/responses';
import type { Usage } from '../../shared/contracts/infer';
import { SseParser, sseBytes } from '../../shared/sse';
import { modelFor, type Backend, type CallMeta, type ErrorPhase } from './backend';
import { AdapterError, BadRequestError, ClientClosedError, NotFoundError, UpstreamError, UpstreamTimeoutError, asAdapterError } from './errors';
import type { ContainerModel } from './formats';
import type { InvocationOutcome, InvokeContext } from './handle-invoke';
import { headerRequestId, parsePostedJson } from './request';
import { type ModelCallTrace, passthroughTrace } from './tracing';
import { writeError, writeJson, type ResponseSink } from './sink';
import { UpstreamAbort } from './upstream-abort';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Usage of a response object, when it has one. */
function usageOf(response: unknown): Usage | undefined {
  const usage = (response as { usage?: { input_tokens?: unknown; output_tokens?: unknown } } | null)?.usage;
  if (typeof usage?.input_tokens !== 'number' || typeof usage.output_tokens !== 'number') return undefined;
  return { prompt_tokens: usage.input_tokens, completion_tokens: usage.output_tokens };
}

interface Relayed {
  readonly usage: Usage | undefined;
  readonly error?: AdapterError | undefined;
  readonly ttftMs?: number | undefined;
  readonly events?: number | undefined;
}

async function relayWhole<M extends ContainerModel>(
  backend: Backend<M>,
  model: M,
  body: Uint8Array,
  sink: ResponseSink,
  signal: AbortSignal,
  meta: CallMeta,
): Promise<Relayed> {
  const transport = backend.transport.responses!;
  const abort = new UpstreamAbort(signal);
  const { requestMs } = backend.timeouts;
  abort.arm(requestMs, () => new UpstreamTimeoutError(`the model did not answer within ${requestMs} ms`, { reason: REASON.timeout }));
  let raw: Uint8Array;
  try {
    raw = (await transport.invoke(model, body, abort.signal, meta)).body;
  } catch (err) {
    throw abort.reason ?? backend.transport.mapError(err, model, 'request');
  } finally {
    abort.dispose();
  }
  let response: unknown;
  try {
    response = JSON.parse(decoder.decode(raw));
  } catch (err) {
    throw new UpstreamError(502, 'the model container answered with invalid JSON', { reason: REASON.bad_response, cause: err });
  }
  if ((response as { object?: unknown } | null)?.object !== 'response')
    throw new UpstreamError(502, 'the model container did not answer a response object', { reason: REASON.bad_response });
  await writeJson(sink, 200, response);
  return { usage: usageOf(response) };
}

async function relayStream<M extends ContainerModel>(
  backend: Backend<M>,
  model: M,
  body: Uint8Array,
  sink: ResponseSink,
  signal: AbortSignal,
  now: () => number,
  call: ModelCallTrace,
  meta: CallMeta,
): Promise<Relayed> {
  const transport = backend.transport.responses!;
  const { firstTokenMs, idleMs } = backend.timeouts;
  const abort = new UpstreamAbort(signal);
  const idleTimeout = () => new UpstreamTimeoutError(`the model stream stalled for ${idleMs} ms`, { reason: REASON.idle_timeout });
  abort.arm(firstTokenMs, () => new UpstreamTimeoutError(`the model sent no event within ${firstTokenMs} ms`, { reason: REASON.first_token_timeout }));
  const started = now();
  let ttftMs: number | undefined;
  let events = 0;
  let usage: Usage | undefined;
  let final = false;
  let completed = false;
  let phase: ErrorPhase = 'request';
  try {
    const upstream = await transport.stream(model, body, abort.signal, meta);
    phase = 'stream';
    if (!isEventStream(upstream.contentType))
      throw new UpstreamError(502, 'the model container did not answer an event stream', { reason: REASON.bad_response });
    const parser = new SseParser();
    const text = new TextDecoder();
    const relay = async (message: { event: string; data: string }) => {
      // Events after the final one (and a `[DONE]` line) are read to the end but not relayed.
      if (final || message.data === '[DONE]') return;
      let data: { type?: unknown; response?: unknown };
      try {
        data = JSON.parse(message.data);
      } catch (err) {
        throw new UpstreamError(502, 'the model container sent an invalid stream event', { reason: REASON.bad_response, cause: err });
      }
      const type = typeof data.type === 'string' ? data.type : message.event;
      if (!sink.started) {
        sink.start(200, SSE_HEADERS);
        ttftMs = Math.round(now() - started);
        call.firstToken();
      }
      events += 1;
      await sink.write(sseBytes(type, data));
      if (RESPONSES_FINAL_EVENTS.includes(type)) {
        final = true;
        usage = usageOf(data.response);
      }
    };
    for await (const chunk of upstream.chunks) {
      if (sink.started) abort.arm(idleMs, idleTimeout);
      for (const message of parser.push(text.decode(chunk, { stream: true }))) await relay(message);
    }
    for (const message of parser.end()) await relay(message);
    completed = true;
    if (!final) throw new UpstreamError(502, 'the model stream ended before the response completed', { reason: REASON.stream_truncated });
  } catch (err) {
    const error = abort.reason ?? (err instanceof AdapterError ? err : backend.transport.mapError(err, model, phase));
    if (!sink.started && !(error instanceof ClientClosedError)) throw error;
    if (!(error instanceof ClientClosedError)) await sink.end(sseBytes(RESPONSES_RELAY_FAILURE, error.toErrorObject())).catch(() => {});
    return { usage, error, ttftMs, events };
  } finally {
    if (!completed) abort.cancel();
    abort.dispose();
  }
  await sink.end();
  return { usage, ttftMs, events };
}

/** Handles one relay request end to end; never throws. */
export async function relayResponses<M extends ContainerModel>(
  event: LambdaFunctionURLEvent,
  sink: ResponseSink,
  backend: Backend<M>,
  ctx: InvokeContext,
): Promise<InvocationOutcome> {
  const now = ctx.now ?? (() => performance.now());
  const tracing = ctx.trace ?? passthroughTrace(event.headers);
  const started = now();
  let req: BackendResponsesRequest | undefined;
  let model: M | undefined;
  const outcome = (status: number, relayed: Partial<Relayed>): InvocationOutcome => ({
    requestId: req?.request_id ?? headerRequestId(event),
    tenantId: req?.tenant_id,
    model: req?.model,
    modelKnown: model !== undefined,
    backend: backend.kind,
    target: model ? backend.target(model) : undefined,
    stream: req?.stream ?? false,
    status,
    error: relayed.error,
    midStream: relayed.error !== undefined && !(relayed.error instanceof ClientClosedError) && status === 200,
    latencyMs: Math.round(now() - started),
    modelLatencyMs: Math.round(now() - started),
    ttftMs: relayed.ttftMs,
    usage: relayed.usage,
    finishReason: undefined,
    tokenEvents: relayed.events,
    request: undefined,
    output: undefined,
  });
  try {
    if (event.rawPath !== RESPONSES_RELAY_PATH) throw new NotFoundError(`no route for ${event.rawPath}`);
    req = tracing.parse(() => parsePostedJson(event, BackendResponsesRequestSchema, 'relay request'));
    model = modelFor(backend, req.model);
    if (!model) throw new NotFoundError(`model '${req.model}' is not configured on this adapter`, { reason: REASON.unknown_model });
    if (!backend.transport.responses || model.format !== 'openai-chat')
      throw new BadRequestError(`model '${req.model}' is not served with the Responses API on this adapter`, { reason: REASON.validation });
    const body = encoder.encode(JSON.stringify({ ...req.body, model: model.modelId ?? req.model, stream: req.stream, store: false }));
    const call = tracing.modelCall({ model: req.model, operation: 'chat', target: backend.target(model), stream: req.stream });
    const meta = { requestId: req.request_id, trace: call.context };
    const relayed = req.stream
      ? await relayStream(backend, model, body, sink, ctx.signal, now, call, meta)
      : await relayWhole(backend, model, body, sink, ctx.signal, meta);
    call.end({ usage: relayed.usage, error: relayed.error });
    return outcome(relayed.error instanceof ClientClosedError ? relayed.error.status : 200, relayed);
  } catch (err) {
    const error = asAdapterError(err);
    if (!(error instanceof ClientClosedError) && !sink.started) await writeError(sink, error).catch(() => {});
    return outcome(error.status, { error });
  } finally {
    if (!sink.ended) await sink.end().catch(() => {});
  }
}
