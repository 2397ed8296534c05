/**
 * The OpenAI-compatible surface (`/v1/chat/completions`, `/v1/completions`, `/v1/models`): request,
 * response and stream-chunk shapes as the official OpenAI SDKs send and read them. Requests are
 * lenient about fields the SDKs add (unknown fields pass), strict about what we cannot honour.
 */
import * as z from 'zod';
import { MAX_PROMPT_CHARS, ModelNameSchema } from './infer';
import { MAX_CHOICES } from './backend';
import { ModelCapabilitiesSchema } from './capabilities';
import { MAX_TOP_LOGPROBS, TokenLogprobSchema } from './logprobs';
import { FunctionToolSchema, ResponseFormatSchema, ToolCallDeltaSchema, ToolCallSchema, ToolChoiceSchema } from './tools';

const TextPart = z.object({ type: z.literal('text'), text: z.string() }).meta({ id: 'TextContentPart' });
/**
 * An image of a user turn, on a model whose capabilities include `vision`: a `data:image/…;base64`
 * URL, or an `https` URL on a public host that the gateway fetches itself (PNG, JPEG, WebP or GIF).
 */
const ImagePart = z
  .object({
    type: z.literal('image_url'),
    image_url: z.object({
      url: z.string().min(1).meta({ description: 'A data:image/…;base64 URL, or an https URL on a public host (fetched by the gateway, no redirects inward)' }),
      detail: z.enum(['auto', 'low', 'high']).optional(),
    }),
  })
  .meta({
    id: 'ImageContentPart',
    description: 'An image (vision models only): PNG, JPEG, WebP or GIF, at most 5 MiB decoded and 8 per request by default; each reserves 765 tokens',
  });
/** A user turn's parts; any other `type` is refused with the part's path. */
const UserPart = z.discriminatedUnion('type', [TextPart, ImagePart]);
const text = z.union([z.string(), z.array(TextPart).min(1)]);
const name = z.string().max(64).optional();

/** The legacy `function_call` of an assistant turn (before `tool_calls`). */
const LegacyFunctionCall = z.object({ name: z.string().min(1).max(64), arguments: z.string() });

export const OpenAiMessageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.enum(['system', 'developer']), content: text, name }),
  z.object({ role: z.literal('user'), content: z.union([z.string(), z.array(UserPart).min(1)]), name }),
  z.object({
    role: z.literal('assistant'),
    content: text.nullish(),
    name,
    tool_calls: z.array(ToolCallSchema).min(1).max(128).nullish(),
    function_call: LegacyFunctionCall.nullish(),
    refusal: z.string().nullish(),
  }),
  z.object({ role: z.literal('tool'), content: text, tool_call_id: z.string().min(1).max(128) }),
  /** The legacy reply to a `function_call`: refused (it names no call id), see translate.ts. */
  z.object({ role: z.literal('function'), content: z.string().nullable(), name: z.string().min(1).max(64) }),
]);

export type OpenAiMessage = z.infer<typeof OpenAiMessageSchema>;

const stop = z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).max(4)]).nullish();

const SamplingFields = {
  model: ModelNameSchema,
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).max(32_768).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  stop,
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullish(),
  user: z.string().max(256).optional(),
} as const;

/** Fields the SDKs may send that this gateway cannot honour: refused rather than silently ignored. */
export const UNSUPPORTED_COMPLETION_FIELDS = ['echo', 'best_of', 'suffix'] as const;

/** A legacy `functions[]` entry: mapped to a function tool. */
const LegacyFunction = FunctionToolSchema.shape.function;

export const ChatCompletionRequestSchema = z
  .looseObject({
    ...SamplingFields,
    messages: z.array(OpenAiMessageSchema).min(1).max(256),
    max_completion_tokens: z.number().int().min(1).max(32_768).nullish(),
    tools: z.array(FunctionToolSchema).max(128, { error: 'at most 128 tools' }).nullish(),
    tool_choice: ToolChoiceSchema.nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    functions: z.array(LegacyFunction).max(128, { error: 'at most 128 functions' }).nullish(),
    function_call: z.union([z.enum(['none', 'auto']), z.object({ name: z.string().min(1).max(64) })]).nullish(),
    response_format: ResponseFormatSchema.nullish(),
    logprobs: z.boolean().nullish(),
    top_logprobs: z.number().int().min(0).max(MAX_TOP_LOGPROBS).nullish(),
    /** Choices to generate; capped by the model's `max_n` and the plan's. */
    n: z.number().int().min(1).max(MAX_CHOICES).nullish(),
  })
  .meta({ id: 'ChatCompletionRequest' });

export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

export const CompletionRequestSchema = z
  .looseObject({
    ...SamplingFields,
    prompt: z.string().min(1).max(MAX_PROMPT_CHARS),
    /** The legacy integer form: logprobs of this many most likely tokens per position (0-5). */
    logprobs: z.number().int().min(0).max(5).nullish(),
    n: z.number().int().min(1).max(MAX_CHOICES).nullish(),
  })
  .meta({ id: 'CompletionRequest' });

export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

const OpenAiUsage = z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });
const FinishReason = z.enum(['stop', 'length', 'tool_calls']).nullable();
/** Legacy completions' logprobs: parallel arrays per token, alternatives as token → logprob maps. */
const LegacyLogprobs = z
  .object({
    tokens: z.array(z.string()),
    token_logprobs: z.array(z.number()),
    top_logprobs: z.array(z.record(z.string(), z.number())),
    text_offset: z.array(z.number().int()),
  })
  .nullable();
const ChatLogprobs = z.object({ content: z.array(TokenLogprobSchema).nullable(), refusal: z.null().optional() }).nullable();

export const ChatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable(),
          refusal: z.null().optional(),
          tool_calls: z.array(ToolCallSchema).optional(),
        }),
        finish_reason: FinishReason,
        logprobs: ChatLogprobs,
      }),
    ),
    usage: OpenAiUsage,
  })
  .meta({ id: 'ChatCompletion' });

export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;

export const ChatCompletionChunkSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion.chunk'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        delta: z.object({ role: z.literal('assistant').optional(), content: z.string().optional(), tool_calls: z.array(ToolCallDeltaSchema).optional() }),
        finish_reason: FinishReason,
        logprobs: ChatLogprobs,
      }),
    ),
    usage: OpenAiUsage.nullish(),
  })
  .meta({ id: 'ChatCompletionChunk' });

export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunkSchema>;

export const CompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('text_completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(z.object({ index: z.number().int(), text: z.string(), finish_reason: FinishReason, logprobs: LegacyLogprobs })),
    usage: OpenAiUsage.nullish(),
  })
  .meta({ id: 'Completion' });

export type Completion = z.infer<typeof CompletionSchema>;

export const ModelListSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        id: z.string(),
        object: z.literal('model'),
        created: z.number().int(),
        owned_by: z.string(),
        /** What the model can do, and what it serves: generation (chat and completions, the Responses API) or embeddings, and its vectors' length. */
        capabilities: ModelCapabilitiesSchema.extend({
          chat: z.boolean(),
          embeddings: z.boolean(),
          dimensions: z.number().int().optional(),
          shortenable_dimensions: z.boolean().optional(),
        }).meta({ id: 'ModelCapabilities' }),
      }),
    ),
  })
  .meta({ id: 'ModelList' });

export type ModelList = z.infer<typeof ModelListSchema>;
