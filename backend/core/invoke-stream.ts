/**
 * One streamed inference, written to the caller as the backend stream contract
 * (shared/contracts/backend.ts): `token` events as the container produces them, then one `done` or
 * one `error`. Nothing is buffered beyond what framing needs: each decoded piece of text is written
 * (with backpressure) before the next upstream chunk is read.
 *
 * The status line is committed with the first token, so a failure before it (upstream refused,
 * in-band error, timeout to first token) throws and is answered as status + BackendError JSON.
 * After it, failures become an `error` event and the stream ends. Whenever this returns or throws
 * before the upstream finished, the upstream call is aborted (the model stops generating).
 */
import { encodeBackendStreamEvent, type BackendInferRequest, type FinishReason } from '../../shared/contracts/backend';
import { REASON, SSE_HEADERS } from '../../shared/contracts/boundary';
import type { Usage } from '../../shared/contracts/infer';
import type { TokenLogprob } from '../../shared/contracts/logprobs';
import type { ToolCallDelta } from '../../shared/contracts/tools';
import type { Backend, CallMeta, ErrorPhase } from './backend';
import { AdapterError, ClientClosedError, UpstreamError, UpstreamTimeoutError } from './errors';
import { generationCodec, type ContainerModel, type StreamPiece } from './formats';
import { stopList } from './formats/common';
import type { ResponseSink } from './sink';
import { StopSequenceTrimmer } from './stop-sequences';
import { ContainerStreamDecoder } from './stream-decoder';
import { UpstreamAbort } from './upstream-abort';
import { usageFor } from './usage';

/** What happened on a stream that was opened (a 200 went out). */
export interface StreamResult {
  /** The failure delivered as an `error` event, or the caller leaving mid-stream. */
  readonly error?: AdapterError | undefined;
  readonly output: string;
  readonly tokenEvents: number;
  readonly ttftMs: number | undefined;
  readonly modelLatencyMs: number;
  readonly usage: Usage;
  readonly finishReason?: FinishReason | undefined;
}

const encoder = new TextEncoder();

/** Streams `req` on `model` into `sink`; throws AdapterError when it fails before the first byte. */
export async function streamInference<M extends ContainerModel>(
  backend: Backend<M>,
  model: M,
  req: BackendInferRequest,
  sink: ResponseSink,
  signal: AbortSignal,
  now: () => number,
  call?: { readonly meta: CallMeta; firstToken(): void },
): Promise<StreamResult> {
  const codec = generationCodec(model, req.model);
  const { firstTokenMs, idleMs } = backend.timeouts;
  const trimmer = new StopSequenceTrimmer(codec.includesStopSequence ? stopList(req.params.stop) : []);
  const abort = new UpstreamAbort(signal);
  const idleTimeout = () => new UpstreamTimeoutError(`the model stream stalled for ${idleMs} ms`, { reason: REASON.idle_timeout });
  abort.arm(firstTokenMs, () => new UpstreamTimeoutError(`the model sent no token within ${firstTokenMs} ms`, { reason: REASON.first_token_timeout }));
  const started = now();
  let output = '';
  let tokenEvents = 0;
  let ttftMs: number | undefined;
  let sawFinal = false;
  let counts: { promptTokens?: number | undefined; completionTokens?: number | undefined; finishReason?: FinishReason | undefined } = {};
  let completed = false;

  const finishReasons: (FinishReason | null)[] = [];
  const emit = async (text: string, toolCalls?: readonly ToolCallDelta[], logprobs?: readonly TokenLogprob[], index?: number) => {
    if (text === '' && !toolCalls) return;
    if (!sink.started) {
      sink.start(200, SSE_HEADERS);
      ttftMs = Math.round(now() - started);
      call?.firstToken();
      abort.arm(idleMs, idleTimeout);
    }
    output += text;
    tokenEvents += 1;
    const data = { text, ...(toolCalls ? { tool_calls: [...toolCalls] } : {}), ...(logprobs ? { logprobs: [...logprobs] } : {}), ...(index ? { index } : {}) };
    await sink.write(encodeBackendStreamEvent({ event: 'token', data }));
  };
  const handle = async (piece: StreamPiece) => {
    // Further choices (n > 1) come from formats that trim no stop sequences (OpenAI), as do tool calls.
    if (piece.kind === 'text')
      return piece.index ? emit(piece.text, undefined, piece.logprobs, piece.index) : emit(trimmer.push(piece.text), undefined, piece.logprobs);
    if (piece.kind === 'tool_calls') return emit('', piece.deltas, undefined, piece.index);
    if (piece.kind === 'error') {
      throw new UpstreamError(502, 'the model container failed while streaming', { reason: REASON.model_stream_error, cause: new Error(piece.message) });
    }
    sawFinal = true;
    if (piece.finishReason) finishReasons[piece.index ?? 0] = piece.finishReason;
    if (piece.index) return;
    counts = {
      promptTokens: piece.promptTokens ?? counts.promptTokens,
      completionTokens: piece.completionTokens ?? counts.completionTokens,
      finishReason: piece.finishReason ?? counts.finishReason,
    };
  };

  let phase: ErrorPhase = 'request';
  try {
    const body = encoder.encode(JSON.stringify(codec.request({ ...req, stream: true }, model)));
    const upstream = await backend.transport.stream(model, body, abort.signal, call?.meta);
    phase = 'stream';
    const decoder = new ContainerStreamDecoder(codec, upstream.contentType);
    for await (const chunk of upstream.chunks) {
      if (sink.started) abort.arm(idleMs, idleTimeout);
      for (const piece of decoder.push(chunk)) await handle(piece);
    }
    for (const piece of decoder.end()) await handle(piece);
    await emit(trimmer.end());
    if (!sawFinal) throw new UpstreamError(502, 'the model stream ended before the generation completed', { reason: REASON.stream_truncated });
    completed = true;
  } catch (err) {
    const error = abort.reason ?? (err instanceof AdapterError ? err : backend.transport.mapError(err, model, phase));
    if (!sink.started && !(error instanceof ClientClosedError)) throw error;
    const result = { error, output, tokenEvents, ttftMs, modelLatencyMs: Math.round(now() - started), usage: usageFor(req, model, output, {}) };
    if (!(error instanceof ClientClosedError)) {
      await sink.end(encodeBackendStreamEvent({ event: 'error', data: error.toErrorObject() })).catch(() => {});
    }
    return result;
  } finally {
    if (!completed) abort.cancel();
    abort.dispose();
  }

  const modelLatencyMs = Math.round(now() - started);
  const usage = usageFor(req, model, output, counts);
  if (!sink.started) sink.start(200, SSE_HEADERS);
  const finishReason = counts.finishReason;
  const perChoice = req.stream && 'messages' in req && req.n ? Array.from({ length: req.n }, (_, i) => finishReasons[i] ?? null) : undefined;
  await sink.end(
    encodeBackendStreamEvent({
      event: 'done',
      data: {
        usage,
        model_latency_ms: modelLatencyMs,
        ...(finishReason ? { finish_reason: finishReason } : {}),
        ...(perChoice ? { finish_reasons: perChoice } : {}),
      },
    }),
  );
  return { output, tokenEvents, ttftMs, modelLatencyMs, usage, finishReason };
}
