/**
 * The one place where the public request shapes (seed `/v1/infer`, OpenAI chat, OpenAI completions)
 * become the backend payload, and where backend results and stream events become each public
 * response shape. Routes and the pipeline never build these shapes themselves. The Responses API
 * has its own module (services/responses/), which yields the same NormalizedRequest.
 */
import type { ChatMessage, BackendInferResponse, BackendStreamEvent, ExtraChoice, FinishReason, TokenData } from '../../shared/contracts/backend';
import type { GenerationParams, InferRequest, InferResponse, Usage } from '../../shared/contracts/infer';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Completion, CompletionRequest } from '../../shared/contracts/openai';
import { UNSUPPORTED_COMPLETION_FIELDS } from '../../shared/contracts/openai';
import type { TokenLogprob } from '../../shared/contracts/logprobs';
import type { ErrorObject } from '../../shared/errors';
import { sseEvent } from '../../shared/sse';
import { ApiError } from '../errors';
import { type ChatOptions, chatInput } from './chat-input';
import type { ResponsesContext } from './responses/conversation';

/** Which public surface a request came from; decides response and error shapes. */
export type Flavour = 'infer' | 'chat' | 'completion' | 'responses';

/** The flavours whose answers this module builds (`responses`: services/responses/answer.ts). */
type TranslatedFlavour = Exclude<Flavour, 'responses'>;

/** A request in the gateway's own terms, whatever surface it came from. */
export type NormalizedRequest =
  | (NormalizedBase & { readonly flavour: TranslatedFlavour; readonly responses?: undefined })
  /** A Responses API request: `responses` holds what its answer echoes and stores. */
  | (NormalizedBase & { readonly flavour: 'responses'; readonly responses: ResponsesContext });

interface NormalizedBase {
  readonly model: string;
  /** A chat request's tools and output format, and how many image parts it holds. */
  readonly chat?: { readonly options: ChatOptions; readonly imageParts: number };
  readonly input: { readonly prompt: string } | { readonly messages: readonly ChatMessage[] };
  readonly params: GenerationParams;
  readonly stream: boolean;
  /** OpenAI `stream_options.include_usage`. */
  readonly includeUsage: boolean;
}

const defined = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as T;

export function fromInfer(req: InferRequest, stream: boolean): NormalizedRequest {
  return { flavour: 'infer', model: req.model, input: { prompt: req.prompt }, params: req.params ?? {}, stream, includeUsage: true };
}

function refuseUnsupported(body: Record<string, unknown>): void {
  const used = UNSUPPORTED_COMPLETION_FIELDS.filter((f) => body[f] !== undefined && body[f] !== null && body[f] !== false);
  if (used.length > 0) {
    throw new ApiError('INVALID_INPUT', `unsupported parameter: ${used.join(', ')}`, {
      details: { issues: used.map((path) => ({ path, message: 'not supported by this gateway' })) },
    });
  }
}

function openAiParams(req: ChatCompletionRequest | CompletionRequest, maxTokens: number | null | undefined): GenerationParams {
  return defined({
    max_tokens: maxTokens ?? undefined,
    temperature: req.temperature ?? undefined,
    top_p: req.top_p ?? undefined,
    stop: req.stop ?? undefined,
    seed: req.seed ?? undefined,
    presence_penalty: req.presence_penalty ?? undefined,
    frequency_penalty: req.frequency_penalty ?? undefined,
    logit_bias: req.logit_bias ?? undefined,
  });
}

export function fromChat(req: ChatCompletionRequest): NormalizedRequest {
  const { messages, options, imageParts } = chatInput(req);
  const length = messages.reduce((n, m) => n + m.content.length, 0);
  if (length === 0 && !messages.some((m) => m.tool_calls || m.parts))
    throw new ApiError('INVALID_INPUT', 'messages contain no text', { details: { issues: [{ path: 'messages', message: 'empty' }] } });
  if (length > 32_768)
    throw new ApiError('INVALID_INPUT', 'messages exceed 32768 characters in total', { details: { issues: [{ path: 'messages', message: 'too long' }] } });
  return {
    flavour: 'chat',
    model: req.model,
    input: { messages },
    chat: { options, imageParts },
    params: openAiParams(req, req.max_completion_tokens ?? req.max_tokens),
    stream: req.stream === true,
    includeUsage: req.stream_options?.include_usage === true,
  };
}

export function fromCompletion(req: CompletionRequest): NormalizedRequest {
  refuseUnsupported(req);
  const logprobs = typeof req.logprobs === 'number' ? { logprobs: true, top_logprobs: req.logprobs } : {};
  return {
    flavour: 'completion',
    model: req.model,
    input: { prompt: req.prompt },
    chat: { options: { ...logprobs, ...(req.n && req.n > 1 ? { n: req.n } : {}) }, imageParts: 0 },
    params: openAiParams(req, req.max_tokens),
    stream: req.stream === true,
    includeUsage: req.stream_options?.include_usage === true,
  };
}

const openAiUsage = (u: Usage) => ({ ...u, total_tokens: u.prompt_tokens + u.completion_tokens });

/** Identity of one answer: the public id and the creation time (seconds). */
export interface AnswerMeta {
  readonly id: string;
  readonly model: string;
  readonly created: number;
  readonly latencyMs: number;
}

export function toInferResponse(meta: AnswerMeta, result: BackendInferResponse): InferResponse {
  return { id: meta.id, model: meta.model, output: result.output, usage: result.usage, latency_ms: meta.latencyMs };
}

function chatChoice(choice: ExtraChoice): ChatCompletion['choices'][number] {
  return {
    index: choice.index,
    message: {
      role: 'assistant',
      // OpenAI sends null content beside tool calls when the model wrote no text.
      content: choice.tool_calls && choice.output === '' ? null : choice.output,
      ...(choice.tool_calls ? { tool_calls: choice.tool_calls } : {}),
    },
    finish_reason: choice.finish_reason ?? 'stop',
    logprobs: choice.logprobs ? { content: choice.logprobs, refusal: null } : null,
  };
}

export function toChatCompletion(meta: AnswerMeta, result: BackendInferResponse): ChatCompletion {
  const first = { index: 0, output: result.output, finish_reason: result.finish_reason, tool_calls: result.tool_calls, logprobs: result.logprobs };
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [first, ...(result.more_choices ?? [])].map(chatChoice),
    usage: openAiUsage(result.usage),
  };
}

/** Chat-shaped token logprobs in the legacy completions shape; `offset` is where the text starts. */
function legacyLogprobs(entries: readonly TokenLogprob[] | undefined, offset = 0): Completion['choices'][number]['logprobs'] {
  if (!entries) return null;
  const text_offset: number[] = [];
  let at = offset;
  for (const e of entries) {
    text_offset.push(at);
    at += e.token.length;
  }
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top_logprobs.map((t) => [t.token, t.logprob]))),
    text_offset,
  };
}

export function toCompletion(meta: AnswerMeta, result: BackendInferResponse): Completion {
  const first = { index: 0, output: result.output, finish_reason: result.finish_reason, logprobs: result.logprobs };
  return {
    id: meta.id,
    object: 'text_completion',
    created: meta.created,
    model: meta.model,
    choices: [first, ...(result.more_choices ?? [])].map((c) => ({
      index: c.index,
      text: c.output,
      finish_reason: completionFinish(c.finish_reason),
      logprobs: legacyLogprobs(c.logprobs),
    })),
    usage: openAiUsage(result.usage),
  };
}

/** The public response for a finished non-streaming request, in the request's flavour. */
export function toResponse(flavour: TranslatedFlavour, meta: AnswerMeta, result: BackendInferResponse): InferResponse | ChatCompletion | Completion {
  if (flavour === 'chat') return toChatCompletion(meta, result);
  if (flavour === 'completion') return toCompletion(meta, result);
  return toInferResponse(meta, result);
}

/** Encodes backend stream events as the client's SSE, in the request's flavour. */
export interface StreamEncoder {
  /** Text to send before the first token (OpenAI chat sends the assistant role first), or ''. */
  start(): string;
  event(event: BackendStreamEvent, latencyMs: number): string;
}

/** Legacy completions have no tool calls; a prompt-only request never gets `tool_calls` from a backend. */
const completionFinish = (reason: FinishReason | undefined) => (reason === 'tool_calls' ? 'stop' : (reason ?? 'stop'));

type ChatDelta = ChatCompletionChunk['choices'][number]['delta'];

/** A chat chunk's delta; built field by field rather than with `defined`, as it runs once per streamed token. */
function deltaOf(choice: { readonly text?: string; readonly role?: boolean; readonly token?: TokenData }): ChatDelta {
  const delta: ChatDelta = {};
  if (choice.role) delta.role = 'assistant';
  if (choice.text !== undefined) delta.content = choice.text;
  if (choice.token?.tool_calls) {
    delta.tool_calls = choice.token.tool_calls;
    if (choice.token.text === '') delete delta.content;
  }
  return delta;
}

export function streamEncoder(flavour: TranslatedFlavour, meta: Omit<AnswerMeta, 'latencyMs'>, includeUsage: boolean): StreamEncoder {
  if (flavour === 'infer') {
    return {
      start: () => '',
      event: (e, latencyMs) => {
        if (e.event === 'token') return sseEvent('token', { text: e.data.text });
        if (e.event === 'done') return sseEvent('done', { id: meta.id, usage: e.data.usage, latency_ms: latencyMs });
        return sseEvent('error', e.data);
      },
    };
  }
  const chunk = (
    choice: { text?: string; role?: boolean; token?: TokenData; finish?: FinishReason; index?: number },
    usage?: Usage,
  ): ChatCompletionChunk | Completion => {
    if (flavour === 'chat') {
      return {
        id: meta.id,
        object: 'chat.completion.chunk',
        created: meta.created,
        model: meta.model,
        choices: usage
          ? []
          : [
              {
                index: choice.index ?? 0,
                delta: deltaOf(choice),
                finish_reason: choice.finish ?? null,
                logprobs: choice.token?.logprobs ? { content: choice.token.logprobs, refusal: null } : null,
              },
            ],
        ...(includeUsage ? { usage: usage ? openAiUsage(usage) : null } : {}),
      };
    }
    return {
      id: meta.id,
      object: 'text_completion',
      created: meta.created,
      model: meta.model,
      choices: usage
        ? []
        : [
            {
              index: choice.index ?? 0,
              text: choice.text ?? '',
              finish_reason: choice.finish ? completionFinish(choice.finish) : null,
              logprobs: legacyLogprobs(choice.token?.logprobs, sent.get(choice.index ?? 0) ?? 0),
            },
          ],
      ...(includeUsage ? { usage: usage ? openAiUsage(usage) : null } : {}),
    };
  };
  // With n > 1, each further choice's first chunk carries its role, as choice 0's opening chunk does.
  const opened = new Set<number>([0]);
  // Characters sent per choice: where a legacy chunk's logprobs `text_offset` starts.
  const sent = new Map<number, number>();
  return {
    start: () => (flavour === 'chat' ? sseEvent(undefined, chunk({ role: true, text: '' })) : ''),
    event: (e) => {
      if (e.event === 'token') {
        const index = e.data.index ?? 0;
        const role = flavour === 'chat' && !opened.has(index);
        opened.add(index);
        const out = sseEvent(undefined, chunk({ text: e.data.text, token: e.data, index, role }));
        sent.set(index, (sent.get(index) ?? 0) + e.data.text.length);
        return out;
      }
      if (e.event === 'done') {
        const reasons = e.data.finish_reasons ?? [e.data.finish_reason ?? 'stop'];
        const last = reasons.map((reason, index) => sseEvent(undefined, chunk({ finish: reason ?? 'stop', index }))).join('');
        const usage = includeUsage ? sseEvent(undefined, chunk({}, e.data.usage)) : '';
        return `${last}${usage}${sseEvent(undefined, '[DONE]')}`;
      }
      // The OpenAI SDKs raise an APIError for a data line carrying `error`.
      return sseEvent(undefined, { error: openAiError(e.data) });
    },
  };
}

const OPENAI_TYPES: Record<ErrorObject['code'], string> = {
  INVALID_INPUT: 'invalid_request_error',
  UNAUTHORIZED: 'authentication_error',
  FORBIDDEN: 'permission_error',
  NOT_FOUND: 'not_found_error',
  CONFLICT: 'conflict_error',
  RATE_LIMITED: 'rate_limit_error',
  BUDGET_EXCEEDED: 'insufficient_quota',
  TIMEOUT: 'timeout_error',
  UPSTREAM_ERROR: 'api_error',
  INTERNAL_ERROR: 'api_error',
};

/** The error object with the `type` the OpenAI SDKs read. */
export function openAiError(error: ErrorObject): ErrorObject {
  return { ...error, type: OPENAI_TYPES[error.code] };
}
