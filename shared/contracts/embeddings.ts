/**
 * Embeddings: the public `POST /v1/embeddings` in OpenAI's shape, its caps, and the edge ↔ backend
 * payloads of an adapter's {@link EMBEDDINGS_PATH}. One backend call carries the inputs of every
 * caller the edge's batcher merged into it; the adapter answers one vector per input, in order,
 * and the prompt tokens the container counted for the whole call.
 */
import * as z from 'zod';
import { ModelNameSchema } from './infer';

/** Most inputs in one request (OpenAI's own cap). */
export const MAX_EMBEDDING_INPUTS = 2_048;
/** Longest text input, in characters. */
export const MAX_EMBEDDING_INPUT_CHARS = 32_768;
/** Most input tokens in one request (estimated for text, counted for token arrays). */
export const MAX_EMBEDDING_REQUEST_TOKENS = 300_000;
/** Largest `dimensions` a request may ask for. */
export const MAX_EMBEDDING_DIMENSIONS = 16_384;

const TokenIds = z.array(z.number().int()).min(1);

export const EmbeddingRequestSchema = z
  .object({
    model: ModelNameSchema,
    input: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1), TokenIds, z.array(TokenIds).min(1)])
      .describe('A string, an array of strings, an array of token ids, or an array of token-id arrays'),
    encoding_format: z.enum(['float', 'base64']).default('float').describe('`base64`: each vector as little-endian float32, base64-encoded'),
    dimensions: z.number().int().min(1).max(MAX_EMBEDDING_DIMENSIONS).optional().describe('Output dimensions, where the model supports shortening'),
    user: z.string().max(256).optional(),
  })
  .meta({ id: 'EmbeddingRequest' });

export type EmbeddingRequest = z.infer<typeof EmbeddingRequestSchema>;

export const EmbeddingListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(z.object({ object: z.literal('embedding'), index: z.number().int(), embedding: z.union([z.array(z.number()), z.string()]) })),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.number().int().nonnegative(), total_tokens: z.number().int().nonnegative() }),
  })
  .meta({ id: 'EmbeddingList' });

export type EmbeddingList = z.infer<typeof EmbeddingListSchema>;

/** Path on every adapter's Function URL that embeds a batch of inputs (`POST`). */
export const EMBEDDINGS_PATH = '/embeddings';

/** One input as the backend gets it: text, or token ids. */
export const EmbeddingInputSchema = z.union([z.string().min(1).max(MAX_EMBEDDING_INPUT_CHARS), z.array(z.number().int().nonnegative()).min(1)]);
export type EmbeddingInput = z.infer<typeof EmbeddingInputSchema>;

export const BackendEmbeddingsRequestSchema = z
  .object({
    request_id: z.string().min(1).max(128),
    tenant_id: z.string().min(1).max(128),
    model: ModelNameSchema,
    inputs: z
      .array(EmbeddingInputSchema)
      .min(1)
      .max(MAX_EMBEDDING_INPUTS)
      // Containers take a list of texts or a list of token lists, never both in one call.
      .refine(
        (inputs): boolean => inputs.every((i) => typeof i === 'string') || inputs.every((i) => typeof i !== 'string'),
        'give all texts or all token lists',
      ),
    dimensions: z.number().int().min(1).max(MAX_EMBEDDING_DIMENSIONS).optional(),
  })
  .strict();

export type BackendEmbeddingsRequest = z.infer<typeof BackendEmbeddingsRequestSchema>;

export const BackendEmbeddingsResponseSchema = z.object({
  /** One vector per input, in the order of `inputs`. */
  embeddings: z.array(z.array(z.number())),
  /** Prompt tokens of the whole call as the container counted them (estimated where it counts none). */
  usage: z.object({ prompt_tokens: z.number().int().nonnegative() }),
  model_latency_ms: z.number().nonnegative(),
});

export type BackendEmbeddingsResponse = z.infer<typeof BackendEmbeddingsResponseSchema>;
