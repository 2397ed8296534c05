/**
 * Container formats: how the gateway's one request becomes what a serving container expects, and how
 * its answer becomes `{output, usage}`. Selected per model in the adapter's config.
 *   tgi                 Hugging Face TGI `generate`: {inputs, parameters} → [{generated_text, details}]
 *   openai-chat         vLLM / LMI OpenAI-compatible chat completions
 *   openai-completions  vLLM / LMI OpenAI-compatible legacy completions
 *   json                plain JSON: {prompt, parameters} → {output, usage?}
 */
import { z } from 'zod';
import type { BackendInferRequest } from '../../shared/contracts/backend';
import type { Usage } from '../../shared/contracts/infer';
import { estimateTokens } from '../../shared/tokens';
import { UpstreamError } from './errors';

export const CONTAINER_FORMATS = ['tgi', 'openai-chat', 'openai-completions', 'json'] as const;
export type ContainerFormat = (typeof CONTAINER_FORMATS)[number];

/** Default completion length when the client sets none. */
export const DEFAULT_MAX_TOKENS = 256;

const stopList = (stop: string | string[] | undefined) => (stop === undefined ? undefined : Array.isArray(stop) ? stop : [stop]);

/** The container request body for `req` in `format`. */
export function toContainerRequest(format: ContainerFormat, req: BackendInferRequest, modelId?: string): Record<string, unknown> {
  const p = req.params;
  const maxTokens = p.max_tokens ?? DEFAULT_MAX_TOKENS;
  switch (format) {
    case 'tgi':
      return {
        inputs: req.prompt,
        parameters: {
          max_new_tokens: maxTokens,
          // TGI rejects temperature 0 and top_p 1: greedy decoding is do_sample=false.
          ...(p.temperature !== undefined && p.temperature > 0 ? { temperature: p.temperature, do_sample: true } : { do_sample: false }),
          ...(p.top_p !== undefined && p.top_p < 1 ? { top_p: p.top_p } : {}),
          ...(p.stop !== undefined ? { stop: stopList(p.stop) } : {}),
          ...(p.seed !== undefined ? { seed: p.seed } : {}),
          details: true,
          decoder_input_details: false,
        },
        ...(req.stream ? { stream: true } : {}),
      };
    case 'openai-chat':
    case 'openai-completions': {
      const common = {
        ...(modelId ? { model: modelId } : {}),
        max_tokens: maxTokens,
        ...(p.temperature !== undefined ? { temperature: p.temperature } : {}),
        ...(p.top_p !== undefined ? { top_p: p.top_p } : {}),
        ...(p.stop !== undefined ? { stop: stopList(p.stop) } : {}),
        ...(p.seed !== undefined ? { seed: p.seed } : {}),
        ...(req.stream ? { stream: true, stream_options: { include_usage: true } } : {}),
      };
      return format === 'openai-chat'
        ? { messages: [{ role: 'user', content: req.prompt }], ...common }
        : { prompt: req.prompt, ...common };
    }
    case 'json':
      return { prompt: req.prompt, parameters: { ...p, max_tokens: maxTokens }, ...(req.stream ? { stream: true } : {}) };
  }
}

const OpenAiUsage = z.object({ prompt_tokens: z.number().int().nonnegative(), completion_tokens: z.number().int().nonnegative() });

const TgiGenerated = z.object({
  generated_text: z.string(),
  details: z.object({ generated_tokens: z.number().int().nonnegative() }).partial().nullish(),
});
const TgiResponse = z.union([z.array(TgiGenerated).min(1), TgiGenerated]);
const ChatResponse = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable() }) })).min(1),
  usage: OpenAiUsage.optional(),
});
const CompletionResponse = z.object({ choices: z.array(z.object({ text: z.string() })).min(1), usage: OpenAiUsage.optional() });
const JsonResponse = z.object({ output: z.string(), usage: OpenAiUsage.optional() });

/** Parses a container's non-streaming answer into `{output, usage}`; usage is estimated where absent. */
export function fromContainerResponse(format: ContainerFormat, body: unknown, req: BackendInferRequest): { output: string; usage: Usage } {
  const estimated = (output: string, completion?: number): Usage => ({
    prompt_tokens: estimateTokens(req.prompt),
    completion_tokens: completion ?? estimateTokens(output),
  });
  const parsed = (() => {
    switch (format) {
      case 'tgi': {
        const r = TgiResponse.safeParse(body);
        if (!r.success) return undefined;
        const first = Array.isArray(r.data) ? r.data[0]! : r.data;
        return { output: first.generated_text, usage: estimated(first.generated_text, first.details?.generated_tokens) };
      }
      case 'openai-chat': {
        const r = ChatResponse.safeParse(body);
        if (!r.success) return undefined;
        const output = r.data.choices[0]!.message.content ?? '';
        return { output, usage: r.data.usage ?? estimated(output) };
      }
      case 'openai-completions': {
        const r = CompletionResponse.safeParse(body);
        if (!r.success) return undefined;
        const output = r.data.choices[0]!.text;
        return { output, usage: r.data.usage ?? estimated(output) };
      }
      case 'json': {
        const r = JsonResponse.safeParse(body);
        if (!r.success) return undefined;
        return { output: r.data.output, usage: r.data.usage ?? estimated(r.data.output) };
      }
    }
  })();
  if (!parsed) throw new UpstreamError(502, `the model container answered in an unexpected shape for format '${format}'`);
  return parsed;
}
