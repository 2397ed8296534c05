/**
 * The container's core, shared by every inference route of the reference model server: decode and
 * validate a body in its format, generate, and answer it whole or as a paced stream while keeping
 * the counters.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { BehaviourConfig, ContainerFormat, ModelServerConfig } from './config';
import type { ErrorRateCounter } from './faults';
import {
  FORMATS,
  detectFormat,
  openAiError,
  type ContainerError,
  type InferenceRequest,
  type ResponseMeta,
  type StreamScript,
  type WireFormat,
} from './formats';
import type { ReceivedRequests } from './received';
import { fixedGeneration, generate, type Generation } from './generator';
import type { StreamTransport } from './io';
import { playStream, waitForGeneration, type Pacing } from './pacing';
import type { InvocationRecord, StatsRecorder } from './stats';

/** What route handlers share. */
export interface ServerContext {
  config(): ModelServerConfig;
  readonly errorRate: ErrorRateCounter;
  readonly stats: StatsRecorder;
  readonly maxBodyBytes: number;
  /** Where the images a request carried are noted (`GET /admin/requests`). */
  readonly received: Pick<ReceivedRequests, 'addImages'>;
  /** A signal that aborts when the client goes away before the response is complete, or the server closes. */
  track(res: ServerResponse): AbortSignal;
}

/** The message of failures injected by `errorRate` and `forcedStatus`. */
export const INJECTED_FAILURE = 'reference model server: injected failure';

/** A body decoded as JSON, or why not. */
export type Decoded = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string };

/** Decodes a UTF-8 JSON body. */
export function decodeJson(body: Buffer): Decoded {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    return { ok: false, message: `Invalid JSON body: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** The `model` field of a decoded body, if it is a non-empty string. */
export function modelOf(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || !('model' in value)) return null;
  return typeof value.model === 'string' && value.model !== '' ? value.model : null;
}

/** A validated request with its (already computed, deterministic) generation. */
export interface Prepared {
  readonly format: WireFormat;
  readonly request: InferenceRequest;
  readonly generation: Generation;
}

/** The format errors are written in before a body's format is known. */
export function errorFormat(format: ContainerFormat): WireFormat {
  return FORMATS[format === 'auto' ? 'plain' : format];
}

/** Validates a decoded body in `format` (`auto` detects it) and generates the answer. */
export function prepare(
  value: unknown,
  format: ContainerFormat,
  config: ModelServerConfig,
  behaviour: BehaviourConfig = config,
): { ok: true; prepared: Prepared } | { ok: false; error: ContainerError } {
  const name = format === 'auto' ? detectFormat(value) : format;
  if (name === null) {
    const message =
      'Cannot detect the request format: expected `messages` (OpenAI chat), `inputs` (TGI), or `prompt` (OpenAI completions with `model`, plain JSON without)';
    return { ok: false, error: openAiError(400, message) };
  }
  const parsed = FORMATS[name].parse(value, { maxModelLen: config.maxModelLen, schemaViolation: behaviour.schemaViolation });
  if (!parsed.ok) return parsed;
  const { fixed, params } = parsed.request;
  const sampled = fixed ? fixedGeneration(fixed.kind === 'tool_calls' ? fixed.calls.map((c) => c.arguments).join('') : fixed.text, params) : generate(params);
  const extra = parsed.request.extraPromptTokens ?? 0;
  const generation = extra > 0 ? { ...sampled, promptTokens: sampled.promptTokens + extra } : sampled;
  return { ok: true, prepared: { format: FORMATS[name], request: parsed.request, generation } };
}

/** Response ids and clock for one answer. */
export function responseMeta(prepared: Prepared, config: ModelServerConfig): ResponseMeta {
  const prefix = prepared.format.name === 'openai-chat' ? 'chatcmpl-' : prepared.format.name === 'openai-responses' ? 'resp_' : 'cmpl-';
  return { id: prefix + randomUUID().replaceAll('-', ''), created: Math.floor(Date.now() / 1000), model: prepared.request.model ?? config.modelName };
}

/**
 * What the container sends back: its stream when `streamed`, else its JSON body laid out as a
 * script whose last token carries the whole body, so pacing and cuts apply to both alike.
 */
export function containerOutput(prepared: Prepared, meta: ResponseMeta, streamed: boolean): StreamScript {
  const { format, request, generation } = prepared;
  if (streamed) return format.stream(request, generation, meta);
  const body = format.respond(request, generation, meta);
  const tokens = generation.tokens.map((_, i) => (i === generation.tokens.length - 1 ? body : ''));
  return { contentType: 'application/json', head: [], tokens, tail: [] };
}

/** All of a script's bytes, as a buffering proxy (SageMaker's InvokeEndpoint) returns them. */
export function wholeBody(script: StreamScript): string {
  return [...script.head, ...script.tokens, ...script.tail].join('');
}

/** Waits out the generation time, then answers in one piece; records success or cancellation. */
export async function serveWhole(prepared: Prepared, pacing: Pacing, signal: AbortSignal, record: InvocationRecord, send: () => void): Promise<void> {
  const { promptTokens, completionTokens } = prepared.generation;
  if (!(await waitForGeneration(completionTokens, pacing, signal))) {
    record.cancelled(promptTokens);
    return;
  }
  send();
  record.succeeded(promptTokens, completionTokens);
}

/** Streams a script through `transport` on schedule, failing it at `streamCutAfter`; records the outcome. */
export async function serveStream(
  prepared: Prepared,
  script: StreamScript,
  behaviour: BehaviourConfig,
  signal: AbortSignal,
  record: InvocationRecord,
  transport: StreamTransport,
  cutMessage: (tokensSent: number) => string,
): Promise<void> {
  transport.begin(script.contentType);
  record.streamStarted(prepared.generation.promptTokens);
  const result = await playStream(script, behaviour, behaviour.streamCutAfter, signal, transport.send);
  if (result.outcome === 'cut') {
    if (behaviour.streamCutMode === 'close') transport.drop();
    else transport.fail(cutMessage(result.tokensSent));
  } else if (result.outcome === 'completed') {
    transport.end();
  }
  record.streamEnded(result.outcome, result.tokensSent);
}
