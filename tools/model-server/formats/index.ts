/**
 * The format registry, LMI-style detection of a request body's format from its shape, and the
 * expected generation for a body.
 */
import { generate, type Generation } from '../generator';
import { openAiChat, openAiCompletions } from './openai';
import { openAiResponses } from './responses';
import { plain } from './plain';
import { tgi } from './tgi';
import type { FormatName, WireFormat } from './types';

export * from './types';
export { openAiError } from './openai';
export { tgiGenerateBody } from './tgi';

/** Every format by name. */
export const FORMATS: Readonly<Record<FormatName, WireFormat>> = {
  tgi,
  'openai-chat': openAiChat,
  'openai-completions': openAiCompletions,
  'openai-responses': openAiResponses,
  plain,
};

/**
 * Detects the format from the body's shape, the way LMI does: `messages` → OpenAI chat;
 * `inputs` → TGI; `prompt` with `model` → OpenAI completions; `prompt` without `model` → plain JSON.
 * Returns null for anything else (not an object, or none of those fields).
 */
export function detectFormat(body: unknown): FormatName | null {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  if ('messages' in body) return 'openai-chat';
  if ('inputs' in body) return 'tgi';
  if ('prompt' in body) return 'model' in body ? 'openai-completions' : 'plain';
  return null;
}

/**
 * The generation the server produces for a request body (format detected unless given): a helper
 * for tests and adapters to compute the expected answer. Throws on a body the server would reject.
 */
export function generationFor(body: unknown, format: FormatName | null = detectFormat(body), maxModelLen = 4096): Generation {
  if (format === null) throw new Error('cannot detect the request format');
  const parsed = FORMATS[format].parse(body, { maxModelLen });
  if (!parsed.ok) throw new Error(`the server would reject this body (${parsed.error.status}): ${parsed.error.body}`);
  return generate(parsed.request.params);
}
