/**
 * OpenAI chat completions and legacy completions, as vLLM (and LMI's OpenAI schema) serve them:
 * request validation, `chat.completion` / `text_completion` bodies, `chat.completion.chunk` SSE with
 * `data: [DONE]` and the optional usage chunk, and vLLM's error body
 * `{"error":{"message","type","param","code"}}`.
 */
import * as z from 'zod';
import { DEFAULT_MAX_TOKENS, countTokens, renderChatPrompt, type Generation, type GenerationParams } from '../generator';
import { CONTENT_TYPE, SSE_DONE, contextOverflow, describeIssues, maxTokensField, seedField, sse, stopField, stopList, usageOf } from './common';
import { type FixedAnswer, fixedAnswer, responseFormatField, toolChoiceField, toolsField } from './chat-tools';
import { IMAGE_TOKENS, imageAnswer, imagePart, imagesOf } from './images';
import type { ContainerError, InferenceRequest, ParseLimits, ParseResult, StreamScript, WireFormat } from './types';
import { type GeneratedToken, VOCABULARY, generate, textPieces } from '../generator';

const ERROR_TYPES: Record<number, string> = {
  400: 'BadRequestError',
  404: 'NotFoundError',
  413: 'RequestEntityTooLargeError',
  422: 'UnprocessableEntityError',
  424: 'FailedDependencyError',
  429: 'RateLimitError',
  500: 'InternalServerError',
  503: 'ServiceUnavailableError',
};

/** vLLM's error body: `{"error":{"message","type","param":null,"code":status}}`. */
export function openAiErrorBody(status: number, message: string): { error: { message: string; type: string; param: null; code: number } } {
  return { error: { message, type: ERROR_TYPES[status] ?? (status >= 500 ? 'InternalServerError' : 'BadRequestError'), param: null, code: status } };
}

/** A complete OpenAI-style error response. */
export function openAiError(status: number, message: string): ContainerError {
  return { status, contentType: CONTENT_TYPE.json, body: JSON.stringify(openAiErrorBody(status, message)) };
}

const sampling = {
  model: z.string().nullish(),
  max_tokens: maxTokensField,
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).lte(1).nullish(),
  stop: stopField,
  seed: seedField,
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  n: z.literal(1, { error: 'only n=1 is supported for legacy completions by the reference model server' }).nullish(),
};

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const toolCall = z.looseObject({ id: z.string(), type: z.literal('function'), function: z.looseObject({ name: z.string(), arguments: z.string() }) });
const chatMessage = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(z.union([textPart, imagePart])), z.null()]).optional(),
  tool_calls: z.array(toolCall).nullish(),
  tool_call_id: z.string().nullish(),
});
const chatSchema = z.looseObject({
  ...sampling,
  messages: z.array(chatMessage).min(1),
  max_completion_tokens: maxTokensField,
  tools: toolsField,
  tool_choice: toolChoiceField,
  parallel_tool_calls: z.boolean().nullish(),
  response_format: responseFormatField,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  n: z.number().int().min(1).max(16).nullish(),
});
const completionSchema = z.looseObject({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).length(1, { error: 'only a single prompt is supported' })]),
  logprobs: z.number().int().min(0).max(5).nullish(),
  n: z.number().int().min(1).max(16).nullish(),
});

type SamplingInput = z.infer<z.ZodObject<typeof sampling>>;

function toRequest(
  format: 'openai-chat' | 'openai-completions',
  input: SamplingInput,
  prompt: string,
  maxTokens: number | null | undefined,
  limits: ParseLimits,
): ParseResult {
  const params: GenerationParams = {
    prompt,
    maxTokens: maxTokens ?? DEFAULT_MAX_TOKENS,
    temperature: input.temperature ?? 1,
    topP: input.top_p ?? 1,
    seed: input.seed ?? null,
    stop: stopList(input.stop),
  };
  const overflow = contextOverflow(params, countTokens(prompt), limits);
  if (overflow) return { ok: false, error: openAiError(400, overflow) };
  const request: InferenceRequest = {
    format,
    params,
    stream: input.stream === true,
    includeUsage: input.stream_options?.include_usage === true,
    model: input.model ?? null,
    details: false,
    decoderInputDetails: false,
    returnFullText: false,
  };
  return { ok: true, request };
}

const utf8 = new TextEncoder();

/**
 * A token's chat logprobs entry: its own logprob, and `top` alternatives (itself first, then
 * vocabulary words at falling logprobs), deterministic like the token itself.
 */
interface LogprobEntry {
  readonly token: string;
  readonly logprob: number;
  readonly bytes: number[];
  readonly top_logprobs?: readonly { token: string; logprob: number; bytes: number[] }[];
}

function tokenLogprob(token: GeneratedToken, top: number): Required<LogprobEntry> {
  const entry = (text: string, logprob: number) => ({ token: text, logprob, bytes: [...utf8.encode(text)] });
  const alternatives = Array.from({ length: top }, (_, i) =>
    i === 0 ? entry(token.text, token.logprob) : entry(VOCABULARY[(token.id + i) % VOCABULARY.length] ?? 'the', token.logprob - i),
  );
  return { ...entry(token.text, token.logprob), top_logprobs: alternatives };
}

/**
 * Every choice's generation: choice 0's, then further ones sampled with the seed moved on (greedy
 * decoding ignores the seed, so they repeat choice 0, as vLLM's do); a fixed answer repeats.
 */
function choiceGenerations(request: InferenceRequest, generation: Generation): Generation[] {
  const more = Array.from({ length: (request.choices ?? 1) - 1 }, (_, i) =>
    request.fixed ? generation : generate({ ...request.params, seed: (request.params.seed ?? 0) + i + 1 }),
  );
  return [generation, ...more];
}

/** Usage of all choices: the prompt once, every choice's completion tokens. */
function usageOfAll(generations: readonly Generation[]): ReturnType<typeof usageOf> {
  const first = usageOf(generations[0]!);
  const completion = generations.reduce((n, g) => n + g.completionTokens, 0);
  return { ...first, completion_tokens: completion, total_tokens: first.prompt_tokens + completion };
}

/** The chat `logprobs` of `tokens` when the request asked for them, else null. */
function logprobsOf(request: InferenceRequest, tokens: readonly GeneratedToken[]): Record<string, unknown> | null {
  if (request.logprobs === undefined) return null;
  const top = request.logprobs;
  return { content: tokens.filter((t) => t.text !== '').map((t) => tokenLogprob(t, top)) };
}

/** Legacy completions' logprobs of `tokens` (text starting at `offset`) when asked for, else null. */
function legacyLogprobsOf(request: InferenceRequest, tokens: readonly GeneratedToken[], offset: number): Record<string, unknown> | null {
  if (request.logprobs === undefined) return null;
  const entries = tokens.filter((t) => t.text !== '').map((t) => tokenLogprob(t, request.logprobs ?? 0));
  const text_offset: number[] = [];
  let at = offset;
  for (const e of entries) {
    text_offset.push(at);
    at += e.token.length;
  }
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top_logprobs.map((a) => [a.token, a.logprob]))),
    text_offset,
  };
}

/** A chat turn as the generator sees it: a tool call as `name(arguments)`, a tool result as its text. */
function turnText(m: z.infer<typeof chatMessage>): string {
  const text = typeof m.content === 'string' ? m.content : (m.content ?? []).map((part) => ('text' in part ? part.text : '')).join('');
  const calls = (m.tool_calls ?? []).map((c) => `${c.function.name}(${c.function.arguments})`).join('\n');
  return calls === '' ? text : text === '' ? calls : `${text}\n${calls}`;
}

function invalid(error: z.ZodError): ParseResult {
  return { ok: false, error: openAiError(400, describeIssues(error)) };
}

function chunkEvent(base: Record<string, unknown>, choice: Record<string, unknown>, request: InferenceRequest): string {
  return sse({ ...base, choices: [choice], ...(request.includeUsage ? { usage: null } : {}) });
}

/**
 * Tool calls as vLLM streams them, one delta per generated token: a call's first token opens it
 * (index, id, type, name and its first argument piece), each further token adds argument text.
 */
function toolCallEvents(calls: Extract<FixedAnswer, { kind: 'tool_calls' }>['calls']): Record<string, unknown>[] {
  return calls.flatMap((call, index) =>
    textPieces(call.arguments).map((piece, i) =>
      i === 0 ? { index, id: call.id, type: 'function', function: { name: call.name, arguments: piece } } : { index, function: { arguments: piece } },
    ),
  );
}

/** OpenAI chat completions (`{messages, ...}` → `chat.completion`, tools and response formats emulated by ./chat-tools.ts). */
export const openAiChat: WireFormat = {
  name: 'openai-chat',
  parse(body, limits) {
    const parsed = chatSchema.safeParse(body);
    if (!parsed.success) return invalid(parsed.error);
    const turns = parsed.data.messages.map((m) => ({ role: m.role, content: turnText(m) }));
    const prompt = renderChatPrompt(turns);
    const last = parsed.data.messages.at(-1);
    const images = parsed.data.messages.flatMap((m) => (Array.isArray(m.content) ? imagesOf(m.content) : []));
    const decided = fixedAnswer(parsed.data, prompt, last?.role === 'user' ? turnText(last) : undefined, limits.schemaViolation === true);
    if (decided && 'error' in decided) return { ok: false, error: openAiError(400, decided.error) };
    // A request with images (and nothing else deciding the answer) is answered with what it saw.
    const fixed: FixedAnswer | undefined = decided ?? (images.length > 0 ? { kind: 'text', text: imageAnswer(images) } : undefined);
    const result = toRequest('openai-chat', { ...parsed.data, n: null }, prompt, parsed.data.max_completion_tokens ?? parsed.data.max_tokens, limits);
    if (!result.ok) return result;
    const logprobs = parsed.data.logprobs === true ? { logprobs: parsed.data.top_logprobs ?? 0 } : {};
    const choices = parsed.data.n && parsed.data.n > 1 ? { choices: parsed.data.n } : {};
    const seen = images.length > 0 ? { images, extraPromptTokens: images.length * IMAGE_TOKENS } : {};
    return { ok: true, request: { ...result.request, ...(fixed ? { fixed } : {}), ...logprobs, ...choices, ...seen } };
  },
  respond(request, generation, meta) {
    const calls = request.fixed?.kind === 'tool_calls' ? request.fixed.calls : undefined;
    const message = calls
      ? { role: 'assistant', content: null, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
      : undefined;
    const generations = choiceGenerations(request, generation);
    return JSON.stringify({
      id: meta.id,
      object: 'chat.completion',
      created: meta.created,
      model: meta.model,
      choices: generations.map((g, index) => ({
        index,
        message: message ?? { role: 'assistant', content: g.text },
        logprobs: logprobsOf(request, g.tokens),
        finish_reason: calls ? 'tool_calls' : g.finishReason,
      })),
      usage: usageOfAll(generations),
    });
  },
  stream(request, generation, meta) {
    const base = { id: meta.id, object: 'chat.completion.chunk', created: meta.created, model: meta.model };
    const choice = (index: number, delta: Record<string, unknown>, finish: string | null) => ({ index, delta, logprobs: null, finish_reason: finish });
    const calls = request.fixed?.kind === 'tool_calls' ? request.fixed.calls : undefined;
    const generations = choiceGenerations(request, generation);
    const perChoice = generations.map((g, index) =>
      calls
        ? toolCallEvents(calls).map((delta) => chunkEvent(base, choice(index, { tool_calls: [delta] }, null), request))
        : g.tokens.map((t) =>
            t.text === '' ? '' : chunkEvent(base, { ...choice(index, { content: t.text }, null), logprobs: logprobsOf(request, [t]) }, request),
          ),
    );
    // Step j of the stream carries token j of every choice, as vLLM interleaves them.
    const steps = Math.max(...perChoice.map((events) => events.length));
    const tail = generations.map((g, index) => chunkEvent(base, choice(index, {}, calls ? 'tool_calls' : g.finishReason), request));
    if (request.includeUsage) tail.push(sse({ ...base, choices: [], usage: usageOfAll(generations) }));
    tail.push(SSE_DONE);
    return {
      contentType: CONTENT_TYPE.sse,
      head: [generations.map((_, index) => chunkEvent(base, choice(index, { role: 'assistant', content: calls ? null : '' }, null), request)).join('')],
      tokens: Array.from({ length: steps }, (_, j) => perChoice.map((events) => events[j] ?? '').join('')),
      tail,
    };
  },
  error: openAiError,
  streamError: (message) => sse(openAiErrorBody(500, message)),
};

/** OpenAI legacy completions (`{prompt, ...}` → `text_completion`). */
export const openAiCompletions: WireFormat = {
  name: 'openai-completions',
  parse(body, limits) {
    const parsed = completionSchema.safeParse(body);
    if (!parsed.success) return invalid(parsed.error);
    const prompt = typeof parsed.data.prompt === 'string' ? parsed.data.prompt : (parsed.data.prompt[0] ?? '');
    const result = toRequest('openai-completions', { ...parsed.data, n: null }, prompt, parsed.data.max_tokens, limits);
    if (!result.ok) return result;
    const logprobs = typeof parsed.data.logprobs === 'number' ? { logprobs: parsed.data.logprobs } : {};
    const choices = parsed.data.n && parsed.data.n > 1 ? { choices: parsed.data.n } : {};
    return { ok: true, request: { ...result.request, ...logprobs, ...choices } };
  },
  respond(request, generation, meta) {
    const generations = choiceGenerations(request, generation);
    return JSON.stringify({
      id: meta.id,
      object: 'text_completion',
      created: meta.created,
      model: meta.model,
      choices: generations.map((g, index) => ({
        index,
        text: g.text,
        logprobs: legacyLogprobsOf(request, g.tokens, 0),
        finish_reason: g.finishReason,
        stop_reason: g.stopSequence,
      })),
      usage: usageOfAll(generations),
    });
  },
  stream(request, generation, meta): StreamScript {
    const base = { id: meta.id, object: 'text_completion', created: meta.created, model: meta.model };
    const generations = choiceGenerations(request, generation);
    const perChoice = generations.map((g, index) => {
      let offset = 0;
      return g.tokens.map((t) => {
        if (t.text === '') return '';
        const event = chunkEvent(base, { index, text: t.text, logprobs: legacyLogprobsOf(request, [t], offset), finish_reason: null }, request);
        offset += t.text.length;
        return event;
      });
    });
    const steps = Math.max(...perChoice.map((events) => events.length));
    const tail = generations.map((g, index) => chunkEvent(base, { index, text: '', logprobs: null, finish_reason: g.finishReason }, request));
    if (request.includeUsage) tail.push(sse({ ...base, choices: [], usage: usageOfAll(generations) }));
    tail.push(SSE_DONE);
    return {
      contentType: CONTENT_TYPE.sse,
      head: [],
      tokens: Array.from({ length: steps }, (_, j) => perChoice.map((events) => events[j] ?? '').join('')),
      tail,
    };
  },
  error: openAiError,
  streamError: (message) => sse(openAiErrorBody(500, message)),
};
