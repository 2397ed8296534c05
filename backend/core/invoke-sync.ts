/**
 * One non-streaming inference: the container body in the model's format, one upstream call under
 * the request timeout, the answer parsed and normalised (stop sequence trimmed, usage completed).
 */
import type { BackendInferRequest, BackendInferResponse } from '../../shared/contracts/backend';
import { REASON } from '../../shared/contracts/boundary';
import { stopList } from './formats/common';
import type { Backend, CallMeta } from './backend';
import { UpstreamError, UpstreamTimeoutError } from './errors';
import { generationCodec, type ContainerModel } from './formats';
import { StopSequenceTrimmer } from './stop-sequences';
import { UpstreamAbort } from './upstream-abort';
import { usageFor } from './usage';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Runs `req` on `model`; throws AdapterError on every failure. */
export async function invokeSync<M extends ContainerModel>(
  backend: Backend<M>,
  model: M,
  req: BackendInferRequest,
  signal: AbortSignal,
  now: () => number,
  meta?: CallMeta,
): Promise<BackendInferResponse> {
  const codec = generationCodec(model, req.model);
  const body = encoder.encode(JSON.stringify(codec.request({ ...req, stream: false }, model)));
  const abort = new UpstreamAbort(signal);
  const { requestMs } = backend.timeouts;
  abort.arm(requestMs, () => new UpstreamTimeoutError(`the model did not answer within ${requestMs} ms`, { reason: REASON.timeout }));
  const started = now();
  let raw: Uint8Array;
  try {
    raw = (await backend.transport.invoke(model, body, abort.signal, meta)).body;
  } catch (err) {
    throw abort.reason ?? backend.transport.mapError(err, model, 'request');
  } finally {
    abort.dispose();
  }
  const modelLatency = Math.round(now() - started);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(raw));
  } catch (err) {
    throw new UpstreamError(502, 'the model container answered with invalid JSON', { reason: REASON.bad_response, cause: err });
  }
  const completion = codec.response(parsed);
  if (!completion)
    throw new UpstreamError(502, `the model container answered in an unexpected shape for format '${model.format}'`, { reason: REASON.bad_response });
  const output = codec.includesStopSequence ? StopSequenceTrimmer.trim(completion.output, stopList(req.params.stop)) : completion.output;
  return {
    output,
    usage: usageFor(req, model, output, completion),
    model_latency_ms: modelLatency,
    ...(completion.finishReason ? { finish_reason: completion.finishReason } : {}),
    ...(completion.toolCalls ? { tool_calls: [...completion.toolCalls] } : {}),
    ...(completion.logprobs ? { logprobs: [...completion.logprobs] } : {}),
    ...(completion.moreChoices
      ? {
          more_choices: completion.moreChoices.map((c, i) => ({
            index: i + 1,
            output: c.output,
            ...(c.finishReason ? { finish_reason: c.finishReason } : {}),
            ...(c.toolCalls ? { tool_calls: [...c.toolCalls] } : {}),
            ...(c.logprobs ? { logprobs: [...c.logprobs] } : {}),
          })),
        }
      : {}),
  };
}
