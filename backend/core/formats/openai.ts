/**
 * OpenAI-compatible chat completions and legacy completions, as vLLM and LMI (SageMaker LMI with the
 * chat schema) serve them: `chat.completion` / `text_completion` bodies with `usage`; streamed as
 * `data: {chunk}` SSE (LMI may send the same chunks as JSON lines), ended by `data: [DONE]`, with
 * `stream_options.include_usage` asking for a final chunk that carries `usage` and no choices.
 *
 * Mapping: `max_tokens`, `temperature`, `top_p`, `stop`, `seed`, `presence_penalty`,
 * `frequency_penalty` and `logit_bias` keep their names; `model` is the
 * configured model id. Chat requests pass `messages` through (the container applies the model's
 * template), tool turns and assistant `tool_calls` (with `content: null` when the turn has no text)
 * included, a user turn with images as content parts (inline `data:` URLs only), and `tools`, `tool_choice`, `parallel_tool_calls` and `response_format` as they are:
 * vLLM and LMI's chat schema take OpenAI's shapes natively. Tool calls come back in
 * `message.tool_calls`, streamed as `delta.tool_calls` fragments. With `n`, every choice is read
 * (streamed chunks carry each choice's `index`). A prompt becomes one user message.
 * Completions take the prompt, or messages rendered with the configured chat template.
 */
import * as z from 'zod';
import { type BackendInferRequest, MAX_CHOICES } from '../../../shared/contracts/backend';
import { TokenLogprobSchema } from '../../../shared/contracts/logprobs';
import { type ResponseFormat, ToolCallDeltaSchema, ToolCallSchema } from '../../../shared/contracts/tools';
import { DEFAULT_MAX_TOKENS, OpenAiUsageSchema, chatMessages, inBandError, normaliseFinishReason, textOnlyPrompt, stopList } from './common';
import type { ContainerCompletion, ContainerModel, FormatCodec, StreamPiece } from './types';

function samplingFields(req: BackendInferRequest, model: ContainerModel): Record<string, unknown> {
  const p = req.params;
  return {
    ...(model.modelId ? { model: model.modelId } : {}),
    max_tokens: p.max_tokens ?? DEFAULT_MAX_TOKENS,
    ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
    ...(p.top_p !== undefined ? { top_p: p.top_p } : {}),
    ...(p.stop !== undefined ? { stop: stopList(p.stop) } : {}),
    ...(p.seed !== undefined ? { seed: p.seed } : {}),
    ...(p.presence_penalty !== undefined ? { presence_penalty: p.presence_penalty } : {}),
    ...(p.frequency_penalty !== undefined ? { frequency_penalty: p.frequency_penalty } : {}),
    ...(p.logit_bias !== undefined ? { logit_bias: p.logit_bias } : {}),
    ...(req.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
}

/** A prompt request's output options in the legacy completions form (`logprobs` as an integer). */
function completionOptions(req: BackendInferRequest): Record<string, unknown> {
  return { ...(req.logprobs ? { logprobs: req.top_logprobs ?? 0 } : {}), ...(req.n ? { n: req.n } : {}) };
}

/** The chat body: messages as OpenAI takes them (text or content parts), and the request's tools and output format. */
function chatBody(req: BackendInferRequest): Record<string, unknown> {
  // A turn with images goes as OpenAI's content parts (its images already inline `data:` URLs).
  const messages = chatMessages(req).map(({ parts, ...m }) =>
    parts ? { ...m, content: parts } : m.tool_calls && m.content === '' ? { ...m, content: null } : m,
  );
  if (!('messages' in req)) return { messages };
  const { tools, tool_choice, parallel_tool_calls, response_format, logprobs, top_logprobs } = req;
  return {
    messages,
    ...(logprobs ? { logprobs, ...(top_logprobs !== undefined ? { top_logprobs } : {}) } : {}),
    ...(req.n ? { n: req.n } : {}),
    ...(tools ? { tools } : {}),
    ...(tool_choice ? { tool_choice } : {}),
    ...(parallel_tool_calls !== undefined ? { parallel_tool_calls } : {}),
    ...(response_format ? { response_format } : {}),
  };
}

const Usage = OpenAiUsageSchema.nullish();
const utf8 = new TextEncoder();
/** Legacy completions' logprobs (parallel arrays), as the chat shape's entries. */
const LegacyLogprobs = z
  .object({
    tokens: z.array(z.string()),
    token_logprobs: z.array(z.number().nullable()),
    top_logprobs: z.array(z.record(z.string(), z.number()).nullable()).nullish(),
  })
  .loose()
  .transform((l) => ({
    content: l.tokens.map((token, i) => ({
      token,
      logprob: l.token_logprobs[i] ?? 0,
      bytes: [...utf8.encode(token)],
      top_logprobs: Object.entries(l.top_logprobs?.[i] ?? {}).map(([t, logprob]) => ({ token: t, logprob, bytes: [...utf8.encode(t)] })),
    })),
  }));
/** Chat or legacy logprobs as chat entries; a malformed one drops the logprobs rather than the answer. */
const Logprobs = z
  .union([LegacyLogprobs, z.object({ content: z.array(TokenLogprobSchema).nullish() }).loose()])
  .nullish()
  .catch(undefined);
const ChatResponse = z.object({
  choices: z
    .array(
      z
        .object({
          message: z.object({ content: z.string().nullish(), tool_calls: z.array(ToolCallSchema).nullish() }).loose(),
          finish_reason: z.string().nullish(),
          logprobs: Logprobs,
        })
        .loose(),
    )
    .min(1),
  usage: Usage,
});
const CompletionResponse = z.object({
  choices: z.array(z.object({ text: z.string(), finish_reason: z.string().nullish(), logprobs: Logprobs }).loose()).min(1),
  usage: Usage,
});
const Chunk = z
  .object({
    choices: z
      .array(
        z
          .object({
            delta: z
              .object({ content: z.string().nullish(), tool_calls: z.array(ToolCallDeltaSchema).nullish() })
              .loose()
              .nullish(),
            text: z.string().nullish(),
            finish_reason: z.string().nullish(),
            logprobs: Logprobs,
            index: z
              .number()
              .int()
              .min(0)
              .max(MAX_CHOICES - 1)
              .default(0),
          })
          .loose(),
      )
      .default([]),
    usage: Usage,
  })
  .loose();

function usageOf(usage: z.infer<typeof Usage>): { promptTokens?: number; completionTokens?: number } {
  return usage ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } : {};
}

/** Both OpenAI formats stream the same chunk shape; chat puts text in `delta.content`, completions in `text`. */
function chunkPieces(data: unknown): StreamPiece[] {
  const error = inBandError(data);
  if (error !== undefined) return [{ kind: 'error', message: error }];
  const parsed = Chunk.safeParse(data);
  if (!parsed.success) return [{ kind: 'error', message: 'unexpected OpenAI stream chunk' }];
  const pieces: StreamPiece[] = [];
  for (const choice of parsed.data.choices) {
    const at = choice.index > 0 ? { index: choice.index } : {};
    const text = choice.delta?.content ?? choice.text ?? '';
    const logprobs = choice.logprobs?.content ?? undefined;
    if (text !== '') pieces.push({ kind: 'text', text, ...(logprobs ? { logprobs } : {}), ...at });
    const deltas = choice.delta?.tool_calls;
    if (deltas && deltas.length > 0) pieces.push({ kind: 'tool_calls', deltas, ...at });
    if (choice.finish_reason) pieces.push({ kind: 'final', finishReason: normaliseFinishReason(choice.finish_reason), ...at });
  }
  if (parsed.data.usage) pieces.push({ kind: 'final', ...usageOf(parsed.data.usage) });
  return pieces;
}

/** OpenAI chat completions (vLLM, LMI chat schema). */
export const openAiChat: FormatCodec = {
  name: 'openai-chat',
  includesStopSequence: false,
  request: (req, model) => ({ ...chatBody(req), ...samplingFields(req, model) }),
  response(body): ContainerCompletion | undefined {
    const parsed = ChatResponse.safeParse(body);
    if (!parsed.success) return undefined;
    const choices = parsed.data.choices.map((choice) => {
      const toolCalls = choice.message.tool_calls;
      const logprobs = choice.logprobs?.content ?? undefined;
      return {
        output: choice.message.content ?? '',
        ...(logprobs ? { logprobs } : {}),
        finishReason: normaliseFinishReason(choice.finish_reason),
        ...(toolCalls && toolCalls.length > 0 ? { toolCalls } : {}),
      };
    });
    const [first, ...more] = choices;
    return { ...first!, ...(more.length > 0 ? { moreChoices: more } : {}), ...usageOf(parsed.data.usage) };
  },
  event: chunkPieces,
};

/** A response format as TGI's Messages API takes it: its grammar form `{type: "json", value: schema}`. */
function tgiResponseFormat(format: ResponseFormat): Record<string, unknown> {
  if (format.type === 'json_schema') return { type: 'json', value: format.json_schema.schema ?? { type: 'object' } };
  return { type: 'json', value: { type: 'object' } };
}

/**
 * Hugging Face TGI's Messages API (its own OpenAI-compatible `/v1/chat/completions`): the OpenAI
 * chat shapes, tools included, except that a response format goes as TGI's JSON grammar.
 */
export const tgiMessages: FormatCodec = {
  ...openAiChat,
  name: 'tgi-messages',
  request(req, model) {
    const body = openAiChat.request(req, model);
    const format = 'messages' in req ? req.response_format : undefined;
    return format ? { ...body, response_format: tgiResponseFormat(format) } : body;
  },
};

/** OpenAI legacy completions (vLLM, LMI). */
export const openAiCompletions: FormatCodec = {
  name: 'openai-completions',
  includesStopSequence: false,
  request: (req, model) => ({
    prompt: textOnlyPrompt(req, model.chatTemplate, 'openai-completions', { logprobs: true, choices: true }),
    ...samplingFields(req, model),
    ...completionOptions(req),
  }),
  response(body): ContainerCompletion | undefined {
    const parsed = CompletionResponse.safeParse(body);
    if (!parsed.success) return undefined;
    const [first, ...more] = parsed.data.choices.map((choice) => {
      const logprobs = choice.logprobs?.content ?? undefined;
      return { output: choice.text, finishReason: normaliseFinishReason(choice.finish_reason), ...(logprobs ? { logprobs } : {}) };
    });
    return { ...first!, ...(more.length > 0 ? { moreChoices: more } : {}), ...usageOf(parsed.data.usage) };
  },
  event: chunkPieces,
};
