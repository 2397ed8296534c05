/**
 * Pieces the format modules share: defaults, the prompt/messages view of a request, finish-reason
 * normalisation and the OpenAI usage shape.
 */
import * as z from 'zod';
import type { BackendInferRequest, ChatMessage, FinishReason } from '../../../shared/contracts/backend';
import { renderChat, type ChatTemplateName } from '../chat-template';
import { BadRequestError } from '../errors';

/** ContainerCompletion length when the client sets none. */
export const DEFAULT_MAX_TOKENS = 256;

/** `stop` as a list. */
export function stopList(stop: string | readonly string[] | undefined): string[] {
  if (stop === undefined) return [];
  return typeof stop === 'string' ? [stop] : [...stop];
}

/** The request's text prompt: the prompt itself, or its messages rendered with `template`. */
export function promptText(req: BackendInferRequest, template: ChatTemplateName): string {
  return 'prompt' in req ? req.prompt : renderChat(req.messages, template);
}

/**
 * {@link promptText} for a format that only takes text, which cannot carry tools, tool turns,
 * images, logprobs or (unless it has a grammar for it) an output format: such a request is refused (the
 * edge checks the model's capabilities first; this keeps the adapter honest on its own).
 */
export function textOnlyPrompt(
  req: BackendInferRequest,
  template: ChatTemplateName,
  format: string,
  options: { grammar?: boolean; logprobs?: boolean; choices?: boolean } = {},
): string {
  if ('messages' in req) {
    const toolTurns = req.messages.some((m) => m.role === 'tool' || m.tool_calls);
    const unsupportedFormat = req.response_format && !options.grammar ? 'response_format' : undefined;
    const images = req.messages.some((m) => m.parts?.some((p) => p.type === 'image_url'));
    const used = req.tools ? 'tools' : (unsupportedFormat ?? (toolTurns ? 'tool messages' : images ? 'image parts' : undefined));
    if (used) throw new BadRequestError(`${used}: not supported by container format '${format}'`);
  }
  if (req.logprobs && !options.logprobs) throw new BadRequestError(`logprobs: not supported by container format '${format}'`);
  if (req.n && !options.choices) throw new BadRequestError(`n: not supported by container format '${format}'`);
  return promptText(req, template);
}

/** The request as chat messages: its messages, or its prompt as one user turn. */
export function chatMessages(req: BackendInferRequest): ChatMessage[] {
  return 'messages' in req ? req.messages : [{ role: 'user', content: req.prompt }];
}

/**
 * A container's finish reason in the contract's terms: `stop` for a stop sequence or end of
 * sequence (TGI `stop_sequence`/`eos_token`, OpenAI `stop`), `length` for the token limit,
 * `tool_calls` when the model called tools; anything else is dropped.
 */
export function normaliseFinishReason(reason: unknown): FinishReason | undefined {
  if (reason === 'length') return 'length';
  if (reason === 'stop' || reason === 'stop_sequence' || reason === 'eos_token') return 'stop';
  if (reason === 'tool_calls' || reason === 'function_call') return 'tool_calls';
  return undefined;
}

/** OpenAI `usage` (extra fields ignored). */
export const OpenAiUsageSchema = z.object({
  prompt_tokens: z.number().int().nonnegative(),
  completion_tokens: z.number().int().nonnegative(),
});

/** An in-band error object: `{"error": "text"}` (TGI) or `{"error": {"message": ...}}` (OpenAI, vLLM). */
export const InBandErrorSchema = z.object({
  error: z.union([z.string(), z.object({ message: z.string() }).loose()]),
});

/** The message of an in-band error, or undefined when `data` is not one. */
export function inBandError(data: unknown): string | undefined {
  const parsed = InBandErrorSchema.safeParse(data);
  if (!parsed.success) return undefined;
  return typeof parsed.data.error === 'string' ? parsed.data.error : parsed.data.error.message;
}
