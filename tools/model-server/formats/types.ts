/**
 * The shapes every wire format of the reference model server shares: a parsed inference request,
 * the response metadata, a streamed response laid out per token, a container error response, and
 * the {@link WireFormat} contract each format module implements. Runtime-agnostic.
 */
import type { ReceivedImage } from './images';
import type { Generation, GenerationParams } from '../generator';
import type { FixedAnswer } from './chat-tools';

/** The request/response formats the serving containers speak. */
export type FormatName = 'tgi' | 'openai-chat' | 'openai-completions' | 'openai-responses' | 'plain';

/** All format names, for validation. */
export const FORMAT_NAMES: readonly FormatName[] = ['tgi', 'openai-chat', 'openai-completions', 'openai-responses', 'plain'];

/** A request body parsed and validated by its format. */
export interface InferenceRequest {
  readonly format: FormatName;
  readonly params: GenerationParams;
  readonly stream: boolean;
  /** OpenAI `stream_options.include_usage`: a final chunk with `usage` and no choices. */
  readonly includeUsage: boolean;
  /** The `model` field, when the format has one. */
  readonly model: string | null;
  /** TGI `parameters.details`. */
  readonly details: boolean;
  /** TGI `parameters.decoder_input_details`: prompt tokens in `details.prefill`. */
  readonly decoderInputDetails: boolean;
  /** TGI `parameters.return_full_text`: the prompt is prepended to `generated_text`. */
  readonly returnFullText: boolean;
  /** Responses API: the function the answer calls instead of answering text (a tool was required). */
  readonly toolCall?: string;
  /** OpenAI chat: an answer the request decides (tool calls, JSON for a schema) instead of sampled text. */
  readonly fixed?: FixedAnswer;
  /** OpenAI chat `logprobs: true`: how many `top_logprobs` alternatives each token carries. */
  readonly logprobs?: number;
  /** OpenAI chat `n` > 1: how many choices the answer has. */
  readonly choices?: number;
  /** OpenAI chat: the inline images the request carried, in order. */
  readonly images?: readonly ReceivedImage[];
  /** Prompt tokens beyond the text's (each image's fixed cost). */
  readonly extraPromptTokens?: number;
}

/** Per-response values the server supplies (ids and clocks are not part of the deterministic output). */
export interface ResponseMeta {
  readonly id: string;
  /** Unix seconds. */
  readonly created: number;
  readonly model: string;
}

/**
 * A streamed response split the way it is paced: `head` goes out with the first token, `tokens[i]`
 * when token i is produced (a token may have no event: ""), `tail` right after the last token.
 * Every string is one whole SSE event or JSON line.
 */
export interface StreamScript {
  readonly contentType: string;
  readonly head: readonly string[];
  readonly tokens: readonly string[];
  readonly tail: readonly string[];
}

/** An error response as the container itself would send it. */
export interface ContainerError {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** Result of {@link WireFormat.parse}. */
export type ParseResult = { readonly ok: true; readonly request: InferenceRequest } | { readonly ok: false; readonly error: ContainerError };

/** Limits a format checks while parsing. */
export interface ParseLimits {
  /** Context window: prompt tokens + max tokens must fit. */
  readonly maxModelLen: number;
  /** Tool arguments and schema JSON ignore their schema (the `schemaViolation` knob). */
  readonly schemaViolation?: boolean;
}

/** One wire format: request parsing, response shaping, streaming and errors. */
export interface WireFormat {
  readonly name: FormatName;
  /** Validates a decoded JSON body. */
  parse(body: unknown, limits: ParseLimits): ParseResult;
  /** The non-streamed response body (JSON text) as the container returns it on `/invocations`. */
  respond(request: InferenceRequest, generation: Generation, meta: ResponseMeta): string;
  /** The streamed response, event by event. */
  stream(request: InferenceRequest, generation: Generation, meta: ResponseMeta): StreamScript;
  /** A container error response in this format, e.g. `error(400, 'messages: required')`. */
  error(status: number, message: string): ContainerError;
  /** The in-band event a container sends when generation fails mid-stream. */
  streamError(message: string): string;
}
