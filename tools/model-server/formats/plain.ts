/**
 * The plain JSON format (this project's own minimal contract, for models behind a custom handler):
 * `{prompt | inputs, max_tokens | max_new_tokens, temperature, top_p, stop, seed, stream}` (fields may
 * also sit under `parameters`) → `{output, usage, finish_reason}`; streamed as JSON lines
 * `{"text": delta}` then `{"done": true, output, usage, finish_reason}`.
 */
import * as z from 'zod';
import { DEFAULT_MAX_TOKENS, countTokens, type GenerationParams } from '../generator';
import { CONTENT_TYPE, contextOverflow, describeIssues, maxTokensField, seedField, stopField, stopList, usageOf } from './common';
import { openAiError, openAiErrorBody } from './openai';
import type { InferenceRequest, WireFormat } from './types';

const knobs = {
  max_tokens: maxTokensField,
  max_new_tokens: maxTokensField,
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).lte(1).nullish(),
  stop: stopField,
  seed: seedField,
};

const plainSchema = z
  .looseObject({
    prompt: z.string().optional(),
    inputs: z.string().optional(),
    stream: z.boolean().nullish(),
    parameters: z.looseObject(knobs).nullish(),
    ...knobs,
  })
  .refine((b) => b.prompt !== undefined || b.inputs !== undefined, { message: 'prompt (or inputs) is required', path: ['prompt'] });

function jsonLine(data: unknown): string {
  return `${JSON.stringify(data)}\n`;
}

/** Plain JSON (`{prompt}` without `model`); top-level knobs win over `parameters`. */
export const plain: WireFormat = {
  name: 'plain',
  parse(body, limits) {
    const parsed = plainSchema.safeParse(body);
    if (!parsed.success) return { ok: false, error: openAiError(400, describeIssues(parsed.error)) };
    const b = parsed.data;
    const p = b.parameters ?? {};
    const params: GenerationParams = {
      prompt: b.prompt ?? b.inputs ?? '',
      maxTokens: b.max_tokens ?? b.max_new_tokens ?? p.max_tokens ?? p.max_new_tokens ?? DEFAULT_MAX_TOKENS,
      temperature: b.temperature ?? p.temperature ?? 1,
      topP: b.top_p ?? p.top_p ?? 1,
      seed: b.seed ?? p.seed ?? null,
      stop: stopList(b.stop ?? p.stop),
    };
    const overflow = contextOverflow(params, countTokens(params.prompt), limits);
    if (overflow) return { ok: false, error: openAiError(400, overflow) };
    const request: InferenceRequest = {
      format: 'plain',
      params,
      stream: b.stream === true,
      includeUsage: false,
      model: null,
      details: false,
      decoderInputDetails: false,
      returnFullText: false,
    };
    return { ok: true, request };
  },
  respond(_request, generation) {
    return JSON.stringify({ output: generation.text, usage: usageOf(generation), finish_reason: generation.finishReason });
  },
  stream(_request, generation) {
    return {
      contentType: CONTENT_TYPE.jsonLines,
      head: [],
      tokens: generation.tokens.map((t) => (t.text === '' ? '' : jsonLine({ text: t.text }))),
      tail: [jsonLine({ done: true, output: generation.text, usage: usageOf(generation), finish_reason: generation.finishReason })],
    };
  },
  error: openAiError,
  streamError: (message) => jsonLine(openAiErrorBody(500, message)),
};
