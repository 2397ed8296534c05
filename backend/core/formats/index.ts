/**
 * The container formats by name (selected per model in the adapters' config):
 *   tgi                 Hugging Face TGI `generate`                      (tgi.ts)
 *   tgi-messages        Hugging Face TGI Messages API (chat, tools)      (openai.ts)
 *   openai-chat         vLLM / LMI OpenAI-compatible chat completions    (openai.ts)
 *   openai-completions  vLLM / LMI OpenAI-compatible legacy completions  (openai.ts)
 *   json                plain JSON passthrough                           (json.ts)
 */
import { json } from './json';
import { openAiChat, openAiCompletions, tgiMessages } from './openai';
import { tgi } from './tgi';
import type { ContainerFormat, FormatCodec } from './types';

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
