/**
 * The embedding container formats (selected per model, like the generation formats of ./index.ts):
 *   tei-embed          Hugging Face TEI `/embed` and the SageMaker Hugging Face embedding containers:
 *                      `{inputs: [...], normalize, truncate, dimensions?}` → `[[...], ...]`; the token
 *                      count, when the container reports it, comes as `x-compute-tokens` (TEI's response
 *                      header, which SageMaker hands back in `CustomAttributes`)
 *   openai-embeddings  vLLM / TEI OpenAI-compatible `/v1/embeddings`: `{model, input, encoding_format:
 *                      "float", dimensions?}` → `{data: [{index, embedding}], usage: {prompt_tokens}}`
 * Pure: no I/O.
 */
import * as z from 'zod';
import type { EmbeddingInput } from '../../../shared/contracts/embeddings';

/** Every embedding format a model can be configured with. */
export const EMBEDDING_FORMATS = ['tei-embed', 'openai-embeddings'] as const;
export type EmbeddingFormat = (typeof EMBEDDING_FORMATS)[number];

/** True for a model configured with an embedding format (it serves no generation). */
export const isEmbeddingFormat = (format: string): format is EmbeddingFormat => (EMBEDDING_FORMATS as readonly string[]).includes(format);

/** A container's embedding answer: one vector per input; the token count when the container gave one. */
export interface ContainerEmbeddings {
  readonly vectors: number[][];
  readonly promptTokens?: number | undefined;
}

/** One embedding format. */
export interface EmbeddingCodec {
  request(inputs: readonly EmbeddingInput[], model: { readonly modelId?: string | undefined }, dimensions: number | undefined): Record<string, unknown>;
  /** The vectors of a whole answer (`attributes`: SageMaker's CustomAttributes); undefined when off shape. */
  response(body: unknown, attributes?: string): ContainerEmbeddings | undefined;
}

const Vectors = z.array(z.array(z.number()));
const OpenAiList = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) }).loose()),
  usage: z.object({ prompt_tokens: z.number().int().nonnegative() }).loose().nullish(),
});

/** `x-compute-tokens=N` in a `k=v; k=v` attribute list. */
export function computeTokens(attributes: string | undefined): number | undefined {
  const match = /(?:^|[;,\s])x-compute-tokens=(\d{1,9})(?:$|[;,\s])/.exec(attributes ?? '');
  return match ? Number(match[1]) : undefined;
}

export const EMBEDDING_CODECS: Readonly<Record<EmbeddingFormat, EmbeddingCodec>> = {
  'tei-embed': {
    request: (inputs, _model, dimensions) => ({ inputs, normalize: true, truncate: false, ...(dimensions !== undefined ? { dimensions } : {}) }),
    response(body, attributes) {
      const parsed = Vectors.safeParse(body);
      return parsed.success ? { vectors: parsed.data, promptTokens: computeTokens(attributes) } : undefined;
    },
  },
  'openai-embeddings': {
    request: (inputs, model, dimensions) => ({
      ...(model.modelId ? { model: model.modelId } : {}),
      input: inputs,
      encoding_format: 'float',
      ...(dimensions !== undefined ? { dimensions } : {}),
    }),
    response(body) {
      const parsed = OpenAiList.safeParse(body);
      if (!parsed.success) return undefined;
      const vectors = [...parsed.data.data].sort((a, b) => a.index - b.index).map((d) => d.embedding);
      return { vectors, promptTokens: parsed.data.usage?.prompt_tokens };
    },
  },
};
