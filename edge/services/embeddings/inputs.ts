/**
 * An embeddings request's inputs checked against the caps and the model: the list of inputs (a
 * string, strings, token ids or lists of them, as OpenAI takes them), each with its estimated
 * tokens, and the `dimensions` the model can give. Every refusal is a 4xx naming the field and the
 * cap: 400 for a malformed input or one over its own caps, 413 for a request over its total.
 */
import {
  type EmbeddingInput,
  type EmbeddingRequest,
  MAX_EMBEDDING_INPUT_CHARS,
  MAX_EMBEDDING_INPUTS,
  MAX_EMBEDDING_REQUEST_TOKENS,
} from '../../../shared/contracts/embeddings';
import { estimateTokens } from '../../../shared/tokens';
import { ApiError } from '../../errors';
import type { EmbeddingsRoute } from '../route-table';

/** One input with its estimated tokens (exact for token ids). */
export interface EmbeddingItem {
  readonly input: EmbeddingInput;
  readonly tokens: number;
}

const refuse = (path: string, message: string, status: 400 | 413 = 400, cap?: Record<string, number>) =>
  new ApiError('INVALID_INPUT', `${path}: ${message}`, { status, details: { issues: [{ path, message }], ...cap } });

/** The request's inputs as a list. */
function listOf(input: EmbeddingRequest['input']): EmbeddingInput[] {
  if (typeof input === 'string') return [input];
  if (input.length > 0 && typeof input[0] === 'number') return [input as number[]];
  return input as EmbeddingInput[];
}

/** Checks and lists the inputs; throws ApiError naming the field and the cap. */
export function embeddingItems(body: Pick<EmbeddingRequest, 'input'>, model: string, route: EmbeddingsRoute): EmbeddingItem[] {
  const inputs = listOf(body.input);
  if (inputs.length > MAX_EMBEDDING_INPUTS)
    throw refuse('input', `${inputs.length} inputs exceed the cap of ${MAX_EMBEDDING_INPUTS} per request`, 400, { max_inputs: MAX_EMBEDDING_INPUTS });
  // A single string or a single token list is `input` itself; otherwise each is `input[i]`.
  const single = typeof body.input === 'string' || typeof body.input[0] === 'number';
  let total = 0;
  const items = inputs.map((input, i): EmbeddingItem => {
    const path = single ? 'input' : `input[${i}]`;
    let tokens: number;
    if (typeof input === 'string') {
      if (input.length > MAX_EMBEDDING_INPUT_CHARS)
        throw refuse(path, `${input.length} characters exceed the cap of ${MAX_EMBEDDING_INPUT_CHARS}`, 400, { max_input_chars: MAX_EMBEDDING_INPUT_CHARS });
      tokens = estimateTokens(input);
    } else {
      const bad = input.findIndex((id) => id < 0 || (route.vocabSize !== undefined && id >= route.vocabSize));
      if (bad >= 0) {
        const bound = route.vocabSize !== undefined ? ` below model '${model}''s vocab_size ${route.vocabSize}` : '';
        throw refuse(`${path}[${bad}]`, `token ids are non-negative integers${bound}`);
      }
      tokens = input.length;
    }
    if (route.maxInputTokens !== undefined && tokens > route.maxInputTokens)
      throw refuse(path, `about ${tokens} tokens exceed model '${model}''s ${route.maxInputTokens} per input`, 400, { max_input_tokens: route.maxInputTokens });
    total += tokens;
    return { input, tokens };
  });
  if (total > MAX_EMBEDDING_REQUEST_TOKENS)
    throw refuse('input', `about ${total} tokens exceed the cap of ${MAX_EMBEDDING_REQUEST_TOKENS} per request`, 413, {
      max_request_tokens: MAX_EMBEDDING_REQUEST_TOKENS,
    });
  return items;
}

/** The `dimensions` to send (undefined: the model's own); throws ApiError naming `dimensions`. */
export function embeddingDimensions(requested: number | undefined, model: string, route: EmbeddingsRoute): number | undefined {
  if (requested === undefined || requested === route.dimensions) return undefined;
  if (!route.shortenable) throw refuse('dimensions', `model '${model}' gives ${route.dimensions} dimensions only`);
  if (requested > route.dimensions) throw refuse('dimensions', `model '${model}' gives at most ${route.dimensions} dimensions`);
  return requested;
}
