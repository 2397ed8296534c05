/**
 * Hugging Face TGI (and the SageMaker Hugging Face LLM container): `{inputs, parameters, stream}` →
 * `[{generated_text, details}]` (or `{generated_text, details}` from `/generate`); streamed as SSE
 * `data:{"token":{"text","special"},"generated_text","details"}` with `details` and `generated_text`
 * on the last event; in-band errors `data:{"error","error_type"}`.
 *
 * Mapping: `max_tokens` → `max_new_tokens`; temperature 0 (or none) → greedy (`do_sample: false`,
 * as TGI refuses temperature 0); `top_p` only below 1 (TGI refuses 1); `stop` → `stop` list;
 * `seed` → `seed`; `frequency_penalty` → `frequency_penalty` (TGI has no `presence_penalty` or
 * `logit_bias`: refused with a 400); a `json_schema` / `json_object` response format → `grammar`
 * `{type: "json", value: schema}` (guided decoding); tools are refused. TGI's text includes a matched stop sequence: the adapter trims it.
 */
import * as z from 'zod';
import { DEFAULT_MAX_TOKENS, inBandError, normaliseFinishReason, textOnlyPrompt, stopList } from './common';
import type { BackendInferRequest } from '../../../shared/contracts/backend';
import { BadRequestError } from '../errors';
import type { ContainerCompletion, FormatCodec, StreamPiece } from './types';

const Details = z.object({ finish_reason: z.string().optional(), generated_tokens: z.number().int().nonnegative().optional() }).loose();
const Generated = z.object({ generated_text: z.string(), details: Details.nullish() }).loose();
const WholeResponse = z.union([z.array(Generated).min(1), Generated]);
const StreamEvent = z
  .object({
    token: z.object({ text: z.string(), special: z.boolean().optional() }).loose().nullish(),
    generated_text: z.string().nullish(),
    details: Details.nullish(),
  })
  .loose();

/** A response format as TGI's guided-decoding `grammar` (a JSON Schema; `json_object`: any object). */
function grammarOf(req: BackendInferRequest): { grammar?: { type: 'json'; value: unknown } } {
  const format = 'messages' in req ? req.response_format : undefined;
  if (format?.type === 'json_schema') return { grammar: { type: 'json', value: format.json_schema.schema ?? { type: 'object' } } };
  if (format?.type === 'json_object') return { grammar: { type: 'json', value: { type: 'object' } } };
  return {};
}

/** Hugging Face TGI `generate`. */
export const tgi: FormatCodec = {
  name: 'tgi',
  includesStopSequence: true,
  request(req, model) {
    const p = req.params;
    const unsupported = p.presence_penalty !== undefined ? 'presence_penalty' : p.logit_bias !== undefined ? 'logit_bias' : undefined;
    if (unsupported) throw new BadRequestError(`${unsupported}: not supported by container format 'tgi'`);
    const sampling = p.temperature !== undefined && p.temperature > 0;
    return {
      inputs: textOnlyPrompt(req, model.chatTemplate, 'tgi', { grammar: true }),
      parameters: {
        max_new_tokens: p.max_tokens ?? DEFAULT_MAX_TOKENS,
        ...(sampling ? { temperature: p.temperature, do_sample: true } : { do_sample: false }),
        ...(p.top_p !== undefined && p.top_p < 1 ? { top_p: p.top_p } : {}),
        ...(p.stop !== undefined ? { stop: stopList(p.stop) } : {}),
        ...(p.seed !== undefined ? { seed: p.seed } : {}),
        ...(p.frequency_penalty !== undefined ? { frequency_penalty: p.frequency_penalty } : {}),
        ...grammarOf(req),
        details: true,
        decoder_input_details: false,
        return_full_text: false,
      },
      ...(req.stream ? { stream: true } : {}),
    };
  },
  response(body): ContainerCompletion | undefined {
    const parsed = WholeResponse.safeParse(body);
    if (!parsed.success) return undefined;
    const first = Array.isArray(parsed.data) ? parsed.data[0]! : parsed.data;
    return {
      output: first.generated_text,
      completionTokens: first.details?.generated_tokens,
      finishReason: normaliseFinishReason(first.details?.finish_reason),
    };
  },
  event(data): StreamPiece[] {
    const error = inBandError(data);
    if (error !== undefined) return [{ kind: 'error', message: error }];
    const parsed = StreamEvent.safeParse(data);
    if (!parsed.success) return [{ kind: 'error', message: 'unexpected TGI stream event' }];
    const { token, generated_text: generatedText, details } = parsed.data;
    const pieces: StreamPiece[] = [];
    if (token && token.special !== true && token.text !== '') pieces.push({ kind: 'text', text: token.text });
    if (details || (generatedText !== null && generatedText !== undefined)) {
      pieces.push({ kind: 'final', completionTokens: details?.generated_tokens, finishReason: normaliseFinishReason(details?.finish_reason) });
    }
    return pieces;
  },
};
