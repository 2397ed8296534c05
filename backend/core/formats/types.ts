/**
 * What every container format module provides: the request body for the gateway's request, the
 * parsed whole answer, and the meaning of one streamed event. Formats are pure (no I/O).
 */
import type { BackendInferRequest, FinishReason } from '../../../shared/contracts/backend';
import type { TokenLogprob } from '../../../shared/contracts/logprobs';
import type { ToolCall, ToolCallDelta } from '../../../shared/contracts/tools';
import type { ChatTemplateName } from '../chat-template';
import type { EmbeddingFormat } from './embeddings';

/** Every container format a model can be configured with. */
export const CONTAINER_FORMATS = ['tgi', 'tgi-messages', 'openai-chat', 'openai-completions', 'json'] as const;
/** A container format name. */
export type ContainerFormat = (typeof CONTAINER_FORMATS)[number];

/** The per-model settings a format reads (adapters extend this with where the model lives). */
export interface ContainerModel {
  /** A generation format, or an embedding format (./embeddings.ts) for a model that only embeds. */
  readonly format: ContainerFormat | EmbeddingFormat;
  /** `model` sent in OpenAI-style bodies (vLLM requires the served model name). */
  readonly modelId?: string | undefined;
  /** How chat messages become a prompt for text-only formats. */
  readonly chatTemplate: ChatTemplateName;
}

/** A container's whole answer, normalised. Token counts are absent when the container gave none. */
export interface ContainerCompletion {
  readonly output: string;
  readonly promptTokens?: number | undefined;
  readonly completionTokens?: number | undefined;
  readonly finishReason?: FinishReason | undefined;
  /** The functions the model called. */
  readonly toolCalls?: readonly ToolCall[] | undefined;
  /** Each output token's logprob, when asked for. */
  readonly logprobs?: readonly TokenLogprob[] | undefined;
  /** With `n` > 1: choices 1 … n-1, in order. */
  readonly moreChoices?: readonly Omit<ContainerCompletion, 'moreChoices' | 'promptTokens' | 'completionTokens'>[] | undefined;
}

/** What one streamed container event means. */
export type StreamPiece =
  | { readonly kind: 'text'; readonly text: string; readonly logprobs?: readonly TokenLogprob[] | undefined; readonly index?: number }
  /** Tool-call fragments, in OpenAI's `delta.tool_calls` shape. */
  | { readonly kind: 'tool_calls'; readonly deltas: readonly ToolCallDelta[]; readonly index?: number }
  /** End-of-generation information; may come in several pieces (OpenAI: finish chunk per choice, then usage chunk). */
  | {
      readonly kind: 'final';
      /** The choice a finish reason belongs to, with `n` > 1 (absent: choice 0). */
      readonly index?: number;
      readonly promptTokens?: number | undefined;
      readonly completionTokens?: number | undefined;
      readonly finishReason?: FinishReason | undefined;
    }
  /** The container failed in-band; `message` is the container's, to be sanitised before it is shown. */
  | { readonly kind: 'error'; readonly message: string };

/** One container format. */
export interface FormatCodec {
  readonly name: ContainerFormat;
  /** The container request body; with `req.stream` the format's streaming flags are set. */
  request(req: BackendInferRequest, model: ContainerModel): Record<string, unknown>;
  /** A whole (non-streamed) answer; undefined when it does not have this format's shape. */
  response(body: unknown): ContainerCompletion | undefined;
  /** The pieces one streamed event (a parsed SSE `data` payload or JSON line) carries. */
  event(data: unknown): StreamPiece[];
  /** The container's text includes a matched stop sequence (TGI), which the adapter trims off. */
  readonly includesStopSequence: boolean;
}
