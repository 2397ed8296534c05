/**
 * Hugging Face TGI's generate format, as TGI and the SageMaker LLM container speak it:
 * `{inputs, parameters:{max_new_tokens, temperature, top_p, stop, seed, details, ...}, stream}` →
 * `[{generated_text, details?}]` on `/invocations` (`{generated_text}` on `/generate`), streamed as
 * `data:{"index","token","generated_text","details"}` events; errors `{"error","error_type"}` (422 for
 * validation).
 */
import * as z from 'zod';
import { DEFAULT_MAX_TOKENS, countTokens, fnv1a, tokenize, type Generation, type GenerationParams } from '../generator';
import { CONTENT_TYPE, describeIssues, maxTokensField } from './common';
import type { ContainerError, InferenceRequest, WireFormat } from './types';
import { sampleForSchema, violationFor } from '../schema-sample';

const ERROR_TYPES: Record<number, string> = {
  400: 'validation',
  422: 'validation',
  424: 'generation',
  429: 'overloaded',
  500: 'incomplete_generation',
  503: 'unavailable',
};

/** A TGI error response: `{"error": message, "error_type": ...}`. */
export function tgiError(status: number, message: string): ContainerError {
  const errorType = ERROR_TYPES[status] ?? (status >= 500 ? 'incomplete_generation' : 'validation');
  return { status, contentType: CONTENT_TYPE.json, body: JSON.stringify({ error: message, error_type: errorType }) };
}

const tgiSchema = z.looseObject({
  inputs: z.string(),
  parameters: z
    .looseObject({
      max_new_tokens: maxTokensField,
      temperature: z.number().positive().nullish(),
      top_p: z.number().gt(0).lt(1).nullish(),
      do_sample: z.boolean().nullish(),
      stop: z.array(z.string()).max(4).nullish(),
      seed: z.number().int().nonnegative().nullish(),
      details: z.boolean().nullish(),
      decoder_input_details: z.boolean().nullish(),
      return_full_text: z.boolean().nullish(),
      /** Guided decoding: output constrained to a JSON Schema (`json`) or a regular expression (`regex`). */
      grammar: z.looseObject({ type: z.enum(['json', 'regex']), value: z.unknown() }).nullish(),
    })
    .nullish(),
  stream: z.boolean().nullish(),
});

/** TGI's token object. */
interface TgiToken {
  readonly id: number;
  readonly text: string;
  readonly logprob: number | null;
  readonly special: false;
}

function finishReason(generation: Generation): 'stop_sequence' | 'length' {
  return generation.finishReason === 'stop' ? 'stop_sequence' : 'length';
}

function seedOf(request: InferenceRequest): number | null {
  return request.params.temperature > 0 ? request.params.seed : null;
}

function detailsOf(request: InferenceRequest, generation: Generation): Record<string, unknown> {
  const prefill: TgiToken[] = request.decoderInputDetails
    ? tokenize(request.params.prompt).map((text, i) => ({ id: fnv1a(text) % 32000, text, logprob: i === 0 ? null : -1, special: false }))
    : [];
  return {
    finish_reason: finishReason(generation),
    generated_tokens: generation.completionTokens,
    seed: seedOf(request),
    prefill,
    tokens: generation.tokens.map((t): TgiToken => ({ id: t.id, text: t.raw, logprob: t.logprob, special: false })),
  };
}

function generatedText(request: InferenceRequest, generation: Generation): string {
  return (request.returnFullText ? request.params.prompt : '') + generation.rawText;
}

/** The body of TGI's native `POST /generate`: `{generated_text, details?}`. */
export function tgiGenerateBody(request: InferenceRequest, generation: Generation): Record<string, unknown> {
  return {
    generated_text: generatedText(request, generation),
    ...(request.details ? { details: detailsOf(request, generation) } : {}),
  };
}

/** One TGI SSE event: TGI writes `data:` without a space. */
function tgiEvent(data: unknown): string {
  return `data:${JSON.stringify(data)}\n\n`;
}

/**
 * TGI (`{inputs, parameters}`), with `parameters.grammar` of type `json` answered by schema-valid
 * JSON (tools/model-server/schema-sample.ts). Greedy unless `do_sample`, `temperature` or `top_p` is set;
 * `generated_text` includes a matched stop sequence, as TGI's does.
 */
export const tgi: WireFormat = {
  name: 'tgi',
  parse(body, limits) {
    const parsed = tgiSchema.safeParse(body);
    if (!parsed.success) return { ok: false, error: tgiError(422, describeIssues(parsed.error)) };
    const p = parsed.data.parameters ?? {};
    const sampling = p.do_sample === true || p.top_p != null;
    const params: GenerationParams = {
      prompt: parsed.data.inputs,
      maxTokens: p.max_new_tokens ?? DEFAULT_MAX_TOKENS,
      temperature: p.temperature ?? (sampling ? 1 : 0),
      topP: p.top_p ?? 1,
      seed: p.seed ?? null,
      stop: p.stop ?? [],
    };
    const promptTokens = countTokens(params.prompt);
    if (promptTokens + params.maxTokens > limits.maxModelLen) {
      const message = `\`inputs\` tokens + \`max_new_tokens\` must be <= ${limits.maxModelLen}. Given: ${promptTokens} \`inputs\` tokens and ${params.maxTokens} \`max_new_tokens\``;
      return { ok: false, error: tgiError(422, message) };
    }
    if (p.grammar?.type === 'regex') return { ok: false, error: tgiError(422, 'regex grammars are not emulated by the reference model server') };
    // A JSON grammar: the answer is JSON valid against the schema (or not, with the schemaViolation knob).
    const value = p.grammar ? (limits.schemaViolation ? violationFor(p.grammar.value) : sampleForSchema(p.grammar.value, fnv1a(params.prompt))) : undefined;
    const request: InferenceRequest = {
      format: 'tgi',
      params,
      stream: parsed.data.stream === true,
      includeUsage: false,
      model: null,
      details: p.details === true,
      decoderInputDetails: p.decoder_input_details === true,
      returnFullText: p.return_full_text === true,
      ...(value !== undefined ? { fixed: { kind: 'json' as const, text: JSON.stringify(value) } } : {}),
    };
    return { ok: true, request };
  },
  respond(request, generation) {
    return JSON.stringify([tgiGenerateBody(request, generation)]);
  },
  stream(request, generation) {
    const last = generation.tokens.length - 1;
    const details = request.details ? { finish_reason: finishReason(generation), generated_tokens: generation.completionTokens, seed: seedOf(request) } : null;
    return {
      contentType: CONTENT_TYPE.sse,
      head: [],
      tokens: generation.tokens.map((t, i) =>
        tgiEvent({
          index: i + 1,
          token: { id: t.id, text: t.raw, logprob: t.logprob, special: false },
          generated_text: i === last ? generatedText(request, generation) : null,
          details: i === last ? details : null,
        }),
      ),
      tail: [],
    };
  },
  error: tgiError,
  streamError: (message) => tgiEvent({ error: message, error_type: 'generation' }),
};
