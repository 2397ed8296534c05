/**
 * The edge ↔ backend payloads: what the edge POSTs to a Lambda adapter's Function URL and what the
 * adapter answers. One shape for every adapter; container formats are the adapter's business. The
 * path (`INVOKE_PATH`), the headers and the error reasons are in ./boundary.ts.
 *
 * Non-streaming (`stream: false`): 200 with {@link BackendInferResponse}, or an error status with
 * {@link BackendError}.
 * Streaming (`stream: true`): 200 with `SSE_HEADERS` and the events of
 * {@link BackendStreamEventSchemas}, written with {@link encodeBackendStreamEvent} and read with
 * {@link parseBackendStreamEvent}: any number of `token`, then exactly one `done` or one `error`.
 * Failures found before the first byte are answered like non-streaming ones (status + BackendError).
 */
import * as z from 'zod';
import { GenerationParamsSchema, ModelNameSchema, UsageSchema, MAX_PROMPT_CHARS } from './infer';
import { BackendReasonSchema } from './boundary';
import { ErrorObjectSchema } from '../errors';
import { sseBytes, type SseMessage } from '../sse';
import { MAX_TOP_LOGPROBS, TokenLogprobSchema } from './logprobs';
import { FunctionToolSchema, MAX_TOOLS, ResponseFormatSchema, ToolCallDeltaSchema, ToolCallSchema, ToolChoiceSchema } from './tools';

/** Most choices one request may ask for (`n`). */
export const MAX_CHOICES = 16;

/**
 * A user turn's part in OpenAI's shape. An image reaches the backend inline only (a `data:image/…`
 * URL the edge built from checked bytes), so a container never fetches an address from a request.
 */
export const ContentPartSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string().max(MAX_PROMPT_CHARS) }).strict(),
  z
    .object({
      type: z.literal('image_url'),
      image_url: z.object({ url: z.string().regex(/^data:image\/(png|jpeg|webp|gif);base64,/), detail: z.enum(['auto', 'low', 'high']).optional() }).strict(),
    })
    .strict(),
]);

export type ContentPart = z.infer<typeof ContentPartSchema>;

/**
 * One chat turn: its text (an assistant turn that only calls tools has `''`), the calls an
 * assistant turn made, and for a `tool` turn the call it answers. A user turn with images also has
 * its `parts` in order (text and images); `content` is then its text alone.
 */
export const ChatMessageSchema = z
  .object({
    role: z.enum(['system', 'user', 'assistant', 'tool']),
    content: z.string().max(MAX_PROMPT_CHARS),
    parts: z.array(ContentPartSchema).min(1).max(64).optional(),
    tool_calls: z.array(ToolCallSchema).min(1).max(MAX_TOOLS).optional(),
    tool_call_id: z.string().min(1).max(128).optional(),
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

/** What a chat request may add to its messages: the tools offered and the output format, in OpenAI's shapes. */
export const ChatOptionsShape = {
  tools: z.array(FunctionToolSchema).min(1).max(MAX_TOOLS).optional(),
  tool_choice: ToolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: ResponseFormatSchema.optional(),
} as const;

/** What any request may ask of its output: token logprobs and several choices. */
export const OutputOptionsShape = {
  /** Return each output token's logprob, with `top_logprobs` alternatives. */
  logprobs: z.boolean().optional(),
  top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).optional(),
  /** Choices to generate (absent: one). */
  n: z.number().int().min(2).max(MAX_CHOICES).optional(),
} as const;

/** Exactly one of `prompt` (completion-style) or `messages` (chat-style, with its {@link ChatOptionsShape}). */
export const BackendInferRequestSchema = z.union([
  BackendInferBase.extend({ prompt: z.string().min(1).max(MAX_PROMPT_CHARS), ...OutputOptionsShape }).strict(),
  BackendInferBase.extend({ messages: z.array(ChatMessageSchema).min(1).max(256), ...ChatOptionsShape, ...OutputOptionsShape }).strict(),
]);

export type BackendInferRequest = z.infer<typeof BackendInferRequestSchema>;
export type BackendInferRequestInput = z.input<typeof BackendInferRequestSchema>;

export const FinishReasonSchema = z.enum(['stop', 'length', 'tool_calls']);
export type FinishReason = z.infer<typeof FinishReasonSchema>;

/** A choice after the first of an `n` > 1 answer (the first is the response's own fields). */
const ExtraChoiceSchema = z.object({
  index: z
    .number()
    .int()
    .min(1)
    .max(MAX_CHOICES - 1),
  output: z.string(),
  finish_reason: FinishReasonSchema.optional(),
  tool_calls: z.array(ToolCallSchema).min(1).max(MAX_TOOLS).optional(),
  logprobs: z.array(TokenLogprobSchema).optional(),
});

export type ExtraChoice = z.infer<typeof ExtraChoiceSchema>;

export const BackendInferResponseSchema = z.object({
  output: z.string(),
  usage: UsageSchema,
  /** Time the model call took as the adapter measured it. */
  model_latency_ms: z.number().nonnegative(),
  finish_reason: FinishReasonSchema.optional(),
  /** The functions the model called instead of (or beside) answering text. */
  tool_calls: z.array(ToolCallSchema).min(1).max(MAX_TOOLS).optional(),
  /** Each output token's logprob, when the request asked for them. */
  logprobs: z.array(TokenLogprobSchema).optional(),
  /** With `n` > 1: choices 1 … n-1 (choice 0 is `output` and its fields above). */
  more_choices: z
    .array(ExtraChoiceSchema)
    .max(MAX_CHOICES - 1)
    .optional(),
});

export type BackendInferResponse = z.infer<typeof BackendInferResponseSchema>;

/** `details` of an adapter's error: what the edge routes on, and what it relays to the client. */
const BackendErrorDetailsSchema = z.object({
  // An adapter deployed before its edge may give a reason this edge does not know yet: the reason
  // is dropped and the status alone decides (SPEC §7), rather than the whole answer being refused.
  reason: BackendReasonSchema.optional().catch(undefined),
  retry_after: z.number().int().nonnegative().optional(),
  upstream_status: z.number().int().optional(),
});

/** An adapter's error object: the envelope's, with the details the adapters give. */
const BackendErrorObjectSchema = ErrorObjectSchema.extend({ details: BackendErrorDetailsSchema.optional() });

/** An adapter's error object. */
export type BackendErrorObject = z.infer<typeof BackendErrorObjectSchema>;

/** `details` of an adapter's error object. */
export type BackendErrorDetails = z.infer<typeof BackendErrorDetailsSchema>;

/** A backend failure: the error object; the HTTP status (and Retry-After) carries the rest. */
export const BackendErrorSchema = z.object({ error: BackendErrorObjectSchema });
export type BackendError = z.infer<typeof BackendErrorSchema>;

/** Stream events from an adapter, by SSE event name: the names are declared here and nowhere else. */
export const BackendStreamEventSchemas = {
  /** Text, or tool-call fragments (then `text` is `''`), as the model produced them; with the text's token logprobs when asked. */
  token: z.object({
    text: z.string(),
    tool_calls: z.array(ToolCallDeltaSchema).min(1).optional(),
    logprobs: z.array(TokenLogprobSchema).optional(),
    /** The choice this token belongs to, with `n` > 1 (absent: choice 0). */
    index: z
      .number()
      .int()
      .min(1)
      .max(MAX_CHOICES - 1)
      .optional(),
  }),
  done: z.object({
    usage: UsageSchema,
    model_latency_ms: z.number().nonnegative(),
    finish_reason: FinishReasonSchema.optional(),
    /** With `n` > 1: each choice's finish reason, by index (`finish_reason` is choice 0's). */
    finish_reasons: z.array(FinishReasonSchema.nullable()).max(MAX_CHOICES).optional(),
  }),
  error: BackendErrorObjectSchema,
} as const;

type BackendStreamEventName = keyof typeof BackendStreamEventSchemas;

/** What one `token` event carries. */
export type TokenData = z.infer<typeof BackendStreamEventSchemas.token>;

/** One stream event, discriminated by its SSE event name. */
export type BackendStreamEvent = {
  [E in BackendStreamEventName]: { event: E; data: z.infer<(typeof BackendStreamEventSchemas)[E]> };
}[BackendStreamEventName];

/** One stream event as SSE bytes: how an adapter writes it. */
export function encodeBackendStreamEvent(e: BackendStreamEvent): Uint8Array {
  return sseBytes(e.event, e.data);
}

/**
 * One parsed SSE message as a stream event: how the edge (and a contract test) reads it. Undefined
 * for an event name the contract does not have, data that is not JSON, or data off its schema.
 */
export function parseBackendStreamEvent(message: SseMessage): BackendStreamEvent | undefined {
  if (!Object.hasOwn(BackendStreamEventSchemas, message.event)) return undefined;
  const name = message.event as BackendStreamEventName;
  let json: unknown;
  try {
    json = JSON.parse(message.data);
  } catch {
    return undefined;
  }
  const parsed = BackendStreamEventSchemas[name].safeParse(json);
  // The name and the schema that parsed the data go together, which TypeScript cannot follow.
  return parsed.success ? ({ event: name, data: parsed.data } as BackendStreamEvent) : undefined;
}
