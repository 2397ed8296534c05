/**
 * The container formats by name (selected per model in the adapters' config):
 *   tgi                 Hugging Face TGI `generate`                      (tgi.ts)
 *   tgi-messages        Hugging Face TGI Messages API (chat, tools)      (openai.ts)
 *   openai-chat         vLLM / LMI OpenAI-compatible chat completions    (openai.ts)
 *   openai-completions  vLLM / LMI OpenAI-compatible legacy completions  (openai.ts)
 *   json                plain JSON passthrough                           (json.ts)
 * and the embedding formats of embeddings.ts.
 */
import { json } from './json';
import { openAiChat, openAiCompletions, tgiMessages } from './openai';
import { tgi } from './tgi';
import { BadRequestError } from '../errors';
import { REASON } from '../../../shared/contracts/boundary';
import { isEmbeddingFormat } from './embeddings';
import type { ContainerFormat, ContainerModel, FormatCodec } from './types';

export * from './types';
export { DEFAULT_MAX_TOKENS, promptText } from './common';

/** Every format by name. */
export const FORMATS: Readonly<Record<ContainerFormat, FormatCodec>> = {
  tgi,
  'tgi-messages': tgiMessages,
  'openai-chat': openAiChat,
  'openai-completions': openAiCompletions,
  json,
};

/** The generation codec of `model`; a model configured to embed refuses generation (400). */
export function generationCodec(model: ContainerModel, name: string): FormatCodec {
  if (isEmbeddingFormat(model.format)) throw new BadRequestError(`model '${name}' serves embeddings, not generation`, { reason: REASON.validation });
  return FORMATS[model.format];
}
