/**
 * Helpers shared by the format modules: zod pieces for sampling parameters, readable validation
 * messages, the context-window check, SSE framing and the usage object.
 */
import * as z from 'zod';
import type { Generation, GenerationParams } from '../generator';
import type { ParseLimits } from './types';

/** `max_tokens`-like fields: a positive integer, or absent/null. */
export const maxTokensField = z.number().int().min(1).nullish();
/** OpenAI-style `stop`: one string or a list. */
export const stopField = z.union([z.string(), z.array(z.string()).max(16)]).nullish();
/** A seed: any safe integer, or absent/null. */
export const seedField = z.number().int().nullish();

/** Normalises `stop` to a list. */
export function stopList(stop: string | readonly string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return typeof stop === 'string' ? [stop] : [...stop];
}

/** Turns zod issues into one line, e.g. `messages: Invalid input: expected array, received undefined`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message)).join('; ');
}

/** The context-window violation message, or null when prompt + completion fit. */
export function contextOverflow(params: GenerationParams, promptTokens: number, limits: ParseLimits): string | null {
  const total = promptTokens + params.maxTokens;
  if (total <= limits.maxModelLen) return null;
  return (
    `This model's maximum context length is ${limits.maxModelLen} tokens. However, you requested ${total} tokens ` +
    `(${promptTokens} in the prompt, ${params.maxTokens} in the completion). Please reduce the length of the prompt or completion.`
  );
}

/** One SSE event the way vLLM and OpenAI write it: `data: {json}\n\n`. */
export function sse(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** The SSE stream terminator OpenAI-compatible servers send. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** OpenAI `usage`. */
export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
}

/** The usage object for a generation. */
export function usageOf(generation: Generation): Usage {
  return {
    prompt_tokens: generation.promptTokens,
    completion_tokens: generation.completionTokens,
    total_tokens: generation.promptTokens + generation.completionTokens,
  };
}

/** Content types used by the formats. */
export const CONTENT_TYPE = {
  json: 'application/json',
  sse: 'text/event-stream',
  jsonLines: 'application/jsonlines',
} as const;
