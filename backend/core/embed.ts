/**
 * The embeddings path, `POST` {@link EMBEDDINGS_PATH}: one batch of inputs (the edge merged the
 * inputs of several callers into it) embedded by one container call in the model's embedding format
 * (formats/embeddings.ts), under the request timeout. Answers one vector per input, in order, and
 * the call's prompt tokens: the container's count where it gives one, else the shared estimate.
 * Failures are status + BackendError JSON, as on the invoke path. Never throws.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { REASON } from '../../shared/contracts/boundary';
import {
  BackendEmbeddingsRequestSchema,
  type BackendEmbeddingsRequest,
  type BackendEmbeddingsResponse,
  EMBEDDINGS_PATH,
  type EmbeddingInput,
} from '../../shared/contracts/embeddings';
import { estimateTokens } from '../../shared/tokens';
import { modelFor, type Backend } from './backend';
import { BadRequestError, ClientClosedError, NotFoundError, UpstreamError, UpstreamTimeoutError, asAdapterError, type AdapterError } from './errors';
import type { ContainerModel } from './formats';
import { EMBEDDING_CODECS, isEmbeddingFormat } from './formats/embeddings';
import type { InvocationOutcome, InvokeContext } from './handle-invoke';
import { headerRequestId, parsePostedJson } from './request';
import { writeError, writeJson, type ResponseSink } from './sink';
import { UpstreamAbort } from './upstream-abort';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Tokens of one input by the shared estimate (token arrays count exactly). */
export const inputTokens = (input: EmbeddingInput): number => (typeof input === 'string' ? estimateTokens(input) : input.length);

/** Embeds `req.inputs` on `model`; throws AdapterError on every failure. */
export async function embedBatch<M extends ContainerModel>(
  backend: Backend<M>,
  model: M,
  req: BackendEmbeddingsRequest,
  signal: AbortSignal,
  now: () => number,
): Promise<BackendEmbeddingsResponse> {
  if (!isEmbeddingFormat(model.format)) throw new BadRequestError(`model '${req.model}' does not serve embeddings`, { reason: REASON.validation });
  const codec = EMBEDDING_CODECS[model.format];
  const body = encoder.encode(JSON.stringify(codec.request(req.inputs, model, req.dimensions)));
  const abort = new UpstreamAbort(signal);
  const { requestMs } = backend.timeouts;
  abort.arm(requestMs, () => new UpstreamTimeoutError(`the model did not answer within ${requestMs} ms`, { reason: REASON.timeout }));
  const started = now();
  let raw: { body: Uint8Array; attributes?: string | undefined };
  try {
    raw = await backend.transport.invoke(model, body, abort.signal);
  } catch (err) {
    throw abort.reason ?? backend.transport.mapError(err, model, 'request');
  } finally {
    abort.dispose();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(raw.body));
  } catch (err) {
    throw new UpstreamError(502, 'the model container answered with invalid JSON', { reason: REASON.bad_response, cause: err });
  }
  const answer = codec.response(parsed, raw.attributes);
  if (!answer || answer.vectors.length !== req.inputs.length)
    throw new UpstreamError(502, `the model container answered in an unexpected shape for format '${model.format}'`, { reason: REASON.bad_response });
  return {
    embeddings: answer.vectors,
    usage: { prompt_tokens: answer.promptTokens ?? req.inputs.reduce((sum, input) => sum + inputTokens(input), 0) },
    model_latency_ms: Math.round(now() - started),
  };
}

/** Handles one embeddings request end to end; never throws. */
export async function handleEmbeddings<M extends ContainerModel>(
  event: LambdaFunctionURLEvent,
  sink: ResponseSink,
  backend: Backend<M>,
  ctx: InvokeContext,
): Promise<InvocationOutcome> {
  const now = ctx.now ?? (() => performance.now());
  const started = now();
  let req: BackendEmbeddingsRequest | undefined;
  let model: M | undefined;
  const outcome = (status: number, error: AdapterError | undefined, result?: BackendEmbeddingsResponse): InvocationOutcome => ({
    requestId: req?.request_id ?? headerRequestId(event),
    tenantId: req?.tenant_id,
    model: req?.model,
    modelKnown: model !== undefined,
    backend: backend.kind,
    target: model ? backend.target(model) : undefined,
    stream: false,
    status,
    error,
    midStream: false,
    latencyMs: Math.round(now() - started),
    modelLatencyMs: result?.model_latency_ms,
    ttftMs: undefined,
    usage: result ? { prompt_tokens: result.usage.prompt_tokens, completion_tokens: 0 } : undefined,
    finishReason: undefined,
    tokenEvents: undefined,
    request: undefined,
    output: undefined,
  });
  try {
    if (event.rawPath !== EMBEDDINGS_PATH) throw new NotFoundError(`no route for ${event.rawPath}`);
    req = parsePostedJson(event, BackendEmbeddingsRequestSchema, 'embeddings request');
    model = modelFor(backend, req.model);
    if (!model) throw new NotFoundError(`model '${req.model}' is not configured on this adapter`, { reason: REASON.unknown_model });
    const result = await embedBatch(backend, model, req, ctx.signal, now);
    await writeJson(sink, 200, result);
    return outcome(200, undefined, result);
  } catch (err) {
    const error = asAdapterError(err);
    if (!(error instanceof ClientClosedError) && !sink.started) await writeError(sink, error).catch(() => {});
    return outcome(error.status, error);
  } finally {
    if (!sink.ended) await sink.end().catch(() => {});
  }
}
