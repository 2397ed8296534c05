/**
 * The edge ↔ backend payloads: what the edge POSTs to a Lambda adapter's Function URL (`POST
 * /invoke`) and what the adapter answers. One shape for every adapter; container formats are the
 * adapter's business.
 *
 * Non-streaming (`stream: false`): 200 with {@link BackendInferResponse}, or an error status with
 * {@link BackendError}.
 * Streaming (`stream: true`): 200 `text/event-stream` with the events of {@link BACKEND_STREAM_EVENTS}
 * (see shared/sse.ts): any number of `token`, then exactly one `done` or one `error`. Failures
 * found before the first byte are answered like non-streaming ones (status + BackendError).
 */
import * as z from 'zod';
import { GenerationParamsSchema, ModelNameSchema, UsageSchema, MAX_PROMPT_CHARS } from './infer';
import { ErrorObjectSchema } from '../errors';

/** One chat turn, as the OpenAI-compatible routes receive it (text content only). */
export const ChatMessageSchema = z
  .object({
    role: z.enum(['system', 'user', 'assistant']),
    content: z.string().max(MAX_PROMPT_CHARS),
  })
  .strict();

export type ChatMessage = z.infer<typeof ChatMessageSchema>;

const BackendInferBase = z.object({
  request_id: z.string().min(1).max(128),
  tenant_id: z.string().min(1).max(128),
  model: ModelNameSchema,
  params: GenerationParamsSchema.default({}),
  stream: z.boolean().default(false),
});

/** Exactly one of `prompt` (completion-style) or `messages` (chat-style). */
export const BackendInferRequestSchema = z.union([
  BackendInferBase.extend({ prompt: z.string().min(1).max(MAX_PROMPT_CHARS) }).strict(),
  BackendInferBase.extend({ messages: z.array(ChatMessageSchema).min(1).max(256) }).strict(),
]);

export type BackendInferRequest = z.infer<typeof BackendInferRequestSchema>;
export type BackendInferRequestInput = z.input<typeof BackendInferRequestSchema>;

export const FinishReasonSchema = z.enum(['stop', 'length']);
export type FinishReason = z.infer<typeof FinishReasonSchema>;

export const BackendInferResponseSchema = z.object({
  output: z.string(),
  usage: UsageSchema,
  /** Time the model call took as the adapter measured it. */
  model_latency_ms: z.number().nonnegative(),
  finish_reason: FinishReasonSchema.optional(),
});

export type BackendInferResponse = z.infer<typeof BackendInferResponseSchema>;

/** A backend failure: the envelope's error object; the HTTP status carries the rest. */
export const BackendErrorSchema = z.object({ error: ErrorObjectSchema });
export type BackendError = z.infer<typeof BackendErrorSchema>;

/** Stream events from an adapter, by SSE event name. */
export const BackendStreamEventSchemas = {
  token: z.object({ text: z.string() }),
  done: z.object({ usage: UsageSchema, model_latency_ms: z.number().nonnegative(), finish_reason: FinishReasonSchema.optional() }),
  error: ErrorObjectSchema,
} as const;

export type BackendStreamEvent =
  | { event: 'token'; data: z.infer<typeof BackendStreamEventSchemas.token> }
  | { event: 'done'; data: z.infer<typeof BackendStreamEventSchemas.done> }
  | { event: 'error'; data: z.infer<typeof BackendStreamEventSchemas.error> };
