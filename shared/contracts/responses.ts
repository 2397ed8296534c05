/**
 * The OpenAI Responses API surface (`POST /v1/responses`, `GET` and `DELETE /v1/responses/{id}`):
 * the request as the official SDKs send it, the response object, and the stream events the SDKs'
 * stream helpers read. Requests are lenient about fields the SDKs add (unknown fields pass) and
 * strict about what the gateway cannot honour (the edge refuses those with a 400 naming them).
 */
import * as z from 'zod';
import { MAX_PROMPT_CHARS, ModelNameSchema } from './infer';

/** Metadata as OpenAI defines it: at most 16 pairs, keys up to 64 characters, values up to 512. */
export const ResponseMetadataSchema = z
  .record(z.string().min(1).max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, 'at most 16 metadata pairs')
  .meta({ id: 'ResponseMetadata' });

const InputText = z.object({ type: z.literal('input_text'), text: z.string().max(MAX_PROMPT_CHARS) });
const OutputText = z.looseObject({ type: z.literal('output_text'), text: z.string().max(MAX_PROMPT_CHARS) });
const Refusal = z.object({ type: z.literal('refusal'), refusal: z.string().max(MAX_PROMPT_CHARS) });
/** Part types OpenAI accepts that this gateway refuses by name (no image or file inputs yet). */
const Unsupported = z.looseObject({ type: z.enum(['input_image', 'input_file', 'input_audio']) });

/** One part of a message's content; text parts are joined in order. */
export const ResponseContentPartSchema = z.discriminatedUnion('type', [InputText, OutputText, Refusal, Unsupported]).meta({ id: 'ResponseContentPart' });

/** A message item: `type` may be left out (the SDKs' "easy input message"). */
export const ResponseInputMessageSchema = z
  .looseObject({
    type: z.literal('message').optional(),
    role: z.enum(['user', 'assistant', 'system', 'developer']),
    content: z.union([z.string().max(MAX_PROMPT_CHARS), z.array(ResponseContentPartSchema).max(64)]),
    id: z.string().max(128).optional(),
    status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
  })
  .meta({ id: 'ResponseInputMessage' });

/** A tool call the model made earlier, replayed as input. */
export const ResponseFunctionCallItemSchema = z
  .looseObject({
    type: z.literal('function_call'),
    call_id: z.string().min(1).max(128),
    name: z.string().min(1).max(128),
    arguments: z.string().max(MAX_PROMPT_CHARS),
    id: z.string().max(128).optional(),
    status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
  })
  .meta({ id: 'ResponseFunctionCallItem' });

/** The result of a tool call, for the model's next turn. */
export const ResponseFunctionCallOutputItemSchema = z
  .looseObject({
    type: z.literal('function_call_output'),
    call_id: z.string().min(1).max(128),
    output: z.union([z.string().max(MAX_PROMPT_CHARS), z.array(ResponseContentPartSchema).max(64)]),
    id: z.string().max(128).optional(),
    status: z.enum(['in_progress', 'completed', 'incomplete']).optional(),
  })
  .meta({ id: 'ResponseFunctionCallOutputItem' });

/** Every input item type, by `type` (a message's may be left out). */
export const RESPONSE_INPUT_ITEMS = {
  message: ResponseInputMessageSchema,
  function_call: ResponseFunctionCallItemSchema,
  function_call_output: ResponseFunctionCallOutputItemSchema,
} as const;

/** An input item; the edge reports a wrong one with the path of the field at fault. */
export const ResponseInputItemSchema = z
  .union([ResponseInputMessageSchema, ResponseFunctionCallItemSchema, ResponseFunctionCallOutputItemSchema])
  .meta({ id: 'ResponseInputItem' });

export type ResponseInputItem = z.infer<typeof ResponseInputItemSchema>;

/** A function tool the model may call. */
export const ResponseFunctionToolSchema = z
  .looseObject({
    type: z.literal('function'),
    name: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, 'function names use letters, digits, _ and -'),
    description: z.string().max(4_096).nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  })
  .meta({ id: 'ResponseFunctionTool' });

/** `tools`: function tools; other tool types (web search, file search, …) are refused by name. */
export const ResponseToolSchema = z.union([
  ResponseFunctionToolSchema,
  z.looseObject({
    type: z
      .string()
      .min(1)
      .max(64)
      .refine((t) => t !== 'function'),
  }),
]);

export const ResponseToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), name: z.string().min(1).max(64) }),
  z.looseObject({
    type: z
      .string()
      .min(1)
      .max(64)
      .refine((t) => t !== 'function'),
  }),
]);

/** `text.format`: plain text, or structured output (`json_schema`, `json_object`). */
export const ResponseTextFormatSchema = z.union([
  z.object({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_schema'), name: z.string().min(1).max(64), schema: z.record(z.string(), z.unknown()), strict: z.boolean().nullish() }),
  z.object({ type: z.literal('json_object') }),
]);

/** Longest Responses id (`resp_` and 32 hex digits here; other gateways' ids are refused as unknown). */
const RESPONSE_ID = z.string().min(1).max(128);

export const ResponseCreateRequestSchema = z
  .looseObject({
    model: ModelNameSchema,
    input: z.union([z.string().min(1).max(MAX_PROMPT_CHARS), z.array(ResponseInputItemSchema).min(1).max(256)]),
    instructions: z.string().max(MAX_PROMPT_CHARS).nullish(),
    tools: z.array(ResponseToolSchema).max(128).nullish(),
    tool_choice: ResponseToolChoiceSchema.nullish(),
    parallel_tool_calls: z.boolean().nullish(),
    text: z.looseObject({ format: ResponseTextFormatSchema.optional() }).nullish(),
    max_output_tokens: z.number().int().min(1).max(32_768).nullish(),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    stream: z.boolean().nullish(),
    store: z.boolean().nullish(),
    previous_response_id: RESPONSE_ID.nullish(),
    metadata: ResponseMetadataSchema.nullish(),
    truncation: z.enum(['auto', 'disabled']).nullish(),
    include: z.array(z.string().max(128)).max(16).nullish(),
    user: z.string().max(256).optional(),
  })
  .meta({ id: 'ResponseCreateRequest', description: 'An OpenAI Responses API request. Fields the gateway cannot honour are refused by name.' });

export type ResponseCreateRequest = z.infer<typeof ResponseCreateRequestSchema>;

const OutputTextPart = z.object({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()),
  logprobs: z.array(z.unknown()),
});

/** An assistant message in `output`. */
export const ResponseOutputMessageSchema = z
  .object({
    id: z.string(),
    type: z.literal('message'),
    role: z.literal('assistant'),
    status: z.enum(['in_progress', 'completed', 'incomplete']),
    content: z.array(OutputTextPart),
  })
  .meta({ id: 'ResponseOutputMessage' });

export type ResponseOutputMessage = z.infer<typeof ResponseOutputMessageSchema>;

/** A function call the model made, in `output`: `call_id` is what its `function_call_output` answers. */
export const ResponseOutputFunctionCallSchema = z
  .object({
    id: z.string(),
    type: z.literal('function_call'),
    call_id: z.string(),
    name: z.string(),
    arguments: z.string(),
    status: z.enum(['in_progress', 'completed', 'incomplete']),
  })
  .meta({ id: 'ResponseOutputFunctionCall' });

export type ResponseOutputFunctionCall = z.infer<typeof ResponseOutputFunctionCallSchema>;

export const ResponseOutputItemSchema = z
  .discriminatedUnion('type', [ResponseOutputMessageSchema, ResponseOutputFunctionCallSchema])
  .meta({ id: 'ResponseOutputItem' });

export type ResponseOutputItem = z.infer<typeof ResponseOutputItemSchema>;

export const ResponseUsageSchema = z
  .object({
    input_tokens: z.number().int().nonnegative(),
    input_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative() }),
    output_tokens: z.number().int().nonnegative(),
    output_tokens_details: z.object({ reasoning_tokens: z.number().int().nonnegative() }),
    total_tokens: z.number().int().nonnegative(),
  })
  .meta({ id: 'ResponseUsage' });

export const RESPONSE_STATUSES = ['in_progress', 'completed', 'incomplete', 'failed'] as const;

export const ResponseObjectSchema = z
  .object({
    id: z.string(),
    object: z.literal('response'),
    created_at: z.number().int(),
    completed_at: z.number().int().nullable(),
    status: z.enum(RESPONSE_STATUSES),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    incomplete_details: z.object({ reason: z.literal('max_output_tokens') }).nullable(),
    model: z.string(),
    instructions: z.string().nullable(),
    /** A `message` when the model wrote text, then a `function_call` per tool call, in the order the model produced them. */
    output: z.array(ResponseOutputItemSchema),
    /** All `output_text` parts of `output`, joined: the SDKs' convenience field. */
    output_text: z.string(),
    usage: ResponseUsageSchema.nullable(),
    max_output_tokens: z.number().int().nullable(),
    temperature: z.number().nullable(),
    top_p: z.number().nullable(),
    previous_response_id: z.string().nullable(),
    store: z.boolean(),
    metadata: z.record(z.string(), z.string()),
    tools: z.array(z.unknown()),
    tool_choice: z.unknown(),
    parallel_tool_calls: z.boolean(),
    text: z.object({ format: z.object({ type: z.string() }).loose() }),
    truncation: z.literal('disabled'),
    reasoning: z.object({ effort: z.null(), summary: z.null() }),
    user: z.string().optional(),
  })
  .meta({ id: 'Response' });

export type ResponseObject = z.infer<typeof ResponseObjectSchema>;

export const ResponseDeletedSchema = z.object({ id: z.string(), object: z.literal('response'), deleted: z.literal(true) }).meta({ id: 'ResponseDeleted' });

/**
 * The stream's event types (each event's `sequence_number` counts from 0): created, in_progress,
 * then per output item in order — a message's output_item.added, content_part.added, any number of
 * output_text.delta, output_text.done, content_part.done, output_item.done; a function call's
 * output_item.added, function_call_arguments.delta …, function_call_arguments.done,
 * output_item.done — then completed. A failure after the start sends `response.failed`, then `error`.
 */
export const RESPONSE_STREAM_EVENTS = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.content_part.added',
  'response.output_text.delta',
  'response.output_text.done',
  'response.content_part.done',
  'response.function_call_arguments.delta',
  'response.function_call_arguments.done',
  'response.output_item.done',
  'response.completed',
  'response.failed',
  'error',
] as const;

export type ResponseStreamEventType = (typeof RESPONSE_STREAM_EVENTS)[number];

/**
 * Path on an ECS adapter's Function URL that relays one Responses API call to a model server that
 * serves it natively (vLLM), for models the route table marks `responses: "native"` (`POST`).
 */
export const RESPONSES_RELAY_PATH = '/responses';

/**
 * What the edge relays: the client's request body, with `previous_response_id` already resolved
 * into `input` by the edge (which stores responses itself; the adapter sends `store: false`). The
 * adapter answers the container's response object (JSON), or its event stream re-framed event by
 * event and ended after its final event; a failure after the stream began arrives as one
 * {@link RESPONSES_RELAY_FAILURE} event carrying the adapter's error object, and failures before it
 * as status + BackendError JSON, as on the invoke path.
 */
export const BackendResponsesRequestSchema = z
  .object({
    request_id: z.string().min(1).max(128),
    tenant_id: z.string().min(1).max(128),
    model: ModelNameSchema,
    stream: z.boolean(),
    body: z.record(z.string(), z.unknown()),
  })
  .strict();

export type BackendResponsesRequest = z.infer<typeof BackendResponsesRequestSchema>;

/** SSE event name of an adapter's own failure in a relayed stream (the container's events keep their types). */
export const RESPONSES_RELAY_FAILURE = 'gateway.relay_error';

/** Event types that end a Responses stream. */
export const RESPONSES_FINAL_EVENTS: readonly string[] = ['response.completed', 'response.incomplete', 'response.failed', 'error'];
