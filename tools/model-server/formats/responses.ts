/**
 * The OpenAI Responses API as vLLM serves it (`POST /v1/responses`): `input` as a string or items
 * (messages, `function_call`, `function_call_output`), `instructions`, function `tools`, a
 * `response` object, and the Responses event stream with `sequence_number`s. The prompt is rendered
 * as the chat format renders the same conversation, so both answer alike. With function tools and
 * a `tool_choice` that requires one (`required`, or a named function), the answer is a
 * `function_call` item calling it with `{}` as arguments: a deterministic stand-in for a model's
 * tool call. An answer stopped by `max_output_tokens` is `incomplete`, and its stream ends with
 * `response.completed`, as vLLM's does.
 */
import * as z from 'zod';
import { DEFAULT_MAX_TOKENS, countTokens, renderChatPrompt, type Generation, type GenerationParams } from '../generator';
import { CONTENT_TYPE, contextOverflow, describeIssues, maxTokensField, seedField } from './common';
import { openAiError } from './openai';
import type { InferenceRequest, ResponseMeta, StreamScript, WireFormat } from './types';

const textPart = z.looseObject({ type: z.enum(['input_text', 'output_text']), text: z.string() });
const content = z.union([z.string(), z.array(textPart)]);
const item = z.union([
  z.looseObject({ type: z.literal('message').optional(), role: z.enum(['system', 'developer', 'user', 'assistant']), content }),
  z.looseObject({ type: z.literal('function_call'), call_id: z.string(), name: z.string(), arguments: z.string() }),
  z.looseObject({ type: z.literal('function_call_output'), call_id: z.string(), output: content }),
]);
const tool = z.looseObject({ type: z.string(), name: z.string().optional() });
const schema = z.looseObject({
  model: z.string().nullish(),
  input: z.union([z.string(), z.array(item).min(1)]),
  instructions: z.string().nullish(),
  max_output_tokens: maxTokensField,
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).lte(1).nullish(),
  seed: seedField,
  stream: z.boolean().nullish(),
  tools: z.array(tool).nullish(),
  tool_choice: z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.literal('function'), name: z.string() })]).nullish(),
});

const textOf = (c: z.infer<typeof content>) => (typeof c === 'string' ? c : c.map((p) => p.text).join(''));

/** The chat turns a Responses input renders as (tool calls and outputs as assistant and tool turns). */
function turnsOf(input: z.infer<typeof schema>['input'], instructions: string | null | undefined): { role: string; content: string }[] {
  const items: z.infer<typeof item>[] = typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : input;
  const turns = items.map((i) => {
    if (i.type === 'function_call') return { role: 'assistant', content: `${i.name}(${i.arguments})` };
    if (i.type === 'function_call_output') return { role: 'tool', content: textOf(i.output) };
    return { role: i.role === 'developer' ? 'system' : i.role, content: textOf(i.content) };
  });
  return instructions ? [{ role: 'system', content: instructions }, ...turns] : turns;
}

function usage(generation: Generation) {
  return {
    input_tokens: generation.promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: generation.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: generation.promptTokens + generation.completionTokens,
  };
}

const itemId = (meta: ResponseMeta, kind: string) => `${kind}_${meta.id.replace(/^resp_/, '')}`;

function outputItem(request: InferenceRequest, generation: Generation, meta: ResponseMeta, done: boolean) {
  const status = done ? 'completed' : 'in_progress';
  if (request.toolCall !== undefined) {
    return { id: itemId(meta, 'fc'), type: 'function_call', status, call_id: itemId(meta, 'call'), name: request.toolCall, arguments: done ? '{}' : '' };
  }
  const text = done ? generation.text : '';
  const incomplete = done && generation.finishReason === 'length';
  return {
    id: itemId(meta, 'msg'),
    type: 'message',
    role: 'assistant',
    status: incomplete ? 'incomplete' : status,
    content: done ? [{ type: 'output_text', text, annotations: [], logprobs: [] }] : [],
  };
}

function responseBody(request: InferenceRequest, generation: Generation, meta: ResponseMeta, done: boolean) {
  const incomplete = done && request.toolCall === undefined && generation.finishReason === 'length';
  return {
    id: meta.id,
    object: 'response',
    created_at: meta.created,
    status: done ? (incomplete ? 'incomplete' : 'completed') : 'in_progress',
    error: null,
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    model: meta.model,
    output: done ? [outputItem(request, generation, meta, true)] : [],
    usage: done ? usage(generation) : null,
    parallel_tool_calls: true,
    tool_choice: 'auto',
    tools: [],
    temperature: request.params.temperature,
    top_p: request.params.topP,
    max_output_tokens: request.params.maxTokens,
  };
}

/** `event: <type>` + `data: {...}` with the next sequence number. */
function counter() {
  let sequence = 0;
  return (type: string, fields: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`;
}

/** The OpenAI Responses API. */
export const openAiResponses: WireFormat = {
  name: 'openai-responses',
  parse(body, limits) {
    const parsed = schema.safeParse(body);
    if (!parsed.success) return { ok: false, error: openAiError(400, describeIssues(parsed.error)) };
    const input = parsed.data;
    const prompt = renderChatPrompt(turnsOf(input.input, input.instructions));
    const params: GenerationParams = {
      prompt,
      maxTokens: input.max_output_tokens ?? DEFAULT_MAX_TOKENS,
      temperature: input.temperature ?? 1,
      topP: input.top_p ?? 1,
      seed: input.seed ?? null,
      stop: [],
    };
    const overflow = contextOverflow(params, countTokens(prompt), limits);
    if (overflow) return { ok: false, error: openAiError(400, overflow) };
    const functions = (input.tools ?? []).filter((t) => t.type === 'function' && t.name).map((t) => t.name as string);
    const choice = input.tool_choice;
    const named = typeof choice === 'object' && choice !== null ? choice.name : undefined;
    if (named !== undefined && !functions.includes(named)) return { ok: false, error: openAiError(400, `tool_choice: no function tool named '${named}'`) };
    const toolCall = named ?? (choice === 'required' ? functions[0] : undefined);
    if (choice === 'required' && toolCall === undefined) return { ok: false, error: openAiError(400, "tool_choice: 'required' needs a function tool") };
    const request: InferenceRequest = {
      format: 'openai-responses',
      params,
      stream: input.stream === true,
      includeUsage: true,
      model: input.model ?? null,
      details: false,
      decoderInputDetails: false,
      returnFullText: false,
      ...(toolCall !== undefined ? { toolCall } : {}),
    };
    return { ok: true, request };
  },
  respond(request, generation, meta) {
    return JSON.stringify(responseBody(request, generation, meta, true));
  },
  stream(request, generation, meta): StreamScript {
    const send = counter();
    const started = responseBody(request, generation, meta, false);
    const item = outputItem(request, generation, meta, false);
    const head = [
      send('response.created', { response: started }),
      send('response.in_progress', { response: started }),
      send('response.output_item.added', { output_index: 0, item }),
    ];
    const done = outputItem(request, generation, meta, true);
    const final = responseBody(request, generation, meta, true);
    if (request.toolCall !== undefined) {
      const ref = { item_id: item.id, output_index: 0 };
      return {
        contentType: CONTENT_TYPE.sse,
        head,
        tokens: generation.tokens.map((_, i) => (i === 0 ? send('response.function_call_arguments.delta', { ...ref, delta: '{}' }) : '')),
        tail: [
          send('response.function_call_arguments.done', { ...ref, name: request.toolCall, arguments: '{}' }),
          send('response.output_item.done', { output_index: 0, item: done }),
          send('response.completed', { response: final }),
        ],
      };
    }
    const ref = { item_id: item.id, output_index: 0, content_index: 0 };
    const part = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });
    return {
      contentType: CONTENT_TYPE.sse,
      head: [...head, send('response.content_part.added', { ...ref, part: part('') })],
      tokens: generation.tokens.map((t) => (t.text === '' ? '' : send('response.output_text.delta', { ...ref, delta: t.text, logprobs: [] }))),
      tail: [
        send('response.output_text.done', { ...ref, text: generation.text, logprobs: [] }),
        send('response.content_part.done', { ...ref, part: part(generation.text) }),
        send('response.output_item.done', { output_index: 0, item: done }),
        send('response.completed', { response: final }),
      ],
    };
  },
  error: openAiError,
  streamError: (message) => `event: error\ndata: ${JSON.stringify({ type: 'error', code: 'server_error', message, param: null })}\n\n`,
};
