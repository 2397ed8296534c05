/**
 * Plain JSON, for models behind a custom inference handler: `{prompt, parameters:{max_tokens,
 * temperature, top_p, stop, seed}, stream?}` → `{output, usage?, finish_reason?}`; streamed as JSON
 * lines `{"text": delta}` … then `{"done": true, "usage"?, "finish_reason"?}`; errors `{"error": …}`.
 * Chat messages are rendered into `prompt` with the configured chat template.
 */
import * as z from 'zod';
import { DEFAULT_MAX_TOKENS, OpenAiUsageSchema, inBandError, normaliseFinishReason, textOnlyPrompt } from './common';
import type { ContainerCompletion, FormatCodec, StreamPiece } from './types';

const WholeResponse = z.object({ output: z.string(), usage: OpenAiUsageSchema.nullish(), finish_reason: z.string().nullish() }).loose();
const TextLine = z.object({ text: z.string() }).loose();
const DoneLine = z.object({ done: z.literal(true), usage: OpenAiUsageSchema.nullish(), finish_reason: z.string().nullish() }).loose();

/** Plain JSON passthrough. */
export const json: FormatCodec = {
  name: 'json',
  includesStopSequence: false,
  request(req, model) {
    return {
      prompt: textOnlyPrompt(req, model.chatTemplate, 'json'),
      parameters: { ...req.params, max_tokens: req.params.max_tokens ?? DEFAULT_MAX_TOKENS },
      ...(req.stream ? { stream: true } : {}),
    };
  },
  response(body): ContainerCompletion | undefined {
    const parsed = WholeResponse.safeParse(body);
    if (!parsed.success) return undefined;
    const { output, usage, finish_reason: finish } = parsed.data;
    return {
      output,
      finishReason: normaliseFinishReason(finish),
      ...(usage ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens } : {}),
    };
  },
  event(data): StreamPiece[] {
    const error = inBandError(data);
    if (error !== undefined) return [{ kind: 'error', message: error }];
    const done = DoneLine.safeParse(data);
    if (done.success) {
      const { usage, finish_reason: finish } = done.data;
      return [{ kind: 'final', finishReason: normaliseFinishReason(finish), promptTokens: usage?.prompt_tokens, completionTokens: usage?.completion_tokens }];
    }
    const text = TextLine.safeParse(data);
    if (text.success) return text.data.text === '' ? [] : [{ kind: 'text', text: text.data.text }];
    return [{ kind: 'error', message: 'unexpected JSON stream line' }];
  },
};
