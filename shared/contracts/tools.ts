/**
 * Function tools and structured output formats, in OpenAI's chat-completions shapes: what a client
 * sends (`tools`, `tool_choice`, `response_format`), what an assistant turn carries (`tool_calls`)
 * and how a stream carries them (`ToolCallDelta`, OpenAI's `delta.tool_calls[]`). Used by the public
 * API and by the edge ↔ backend contract alike, so both sides read one definition.
 */
import * as z from 'zod';

/** Most tools one request may offer. */
export const MAX_TOOLS = 128;
/** Largest JSON Schema (tool parameters, response format) in bytes of JSON. */
export const MAX_SCHEMA_BYTES = 64 * 1024;

const FunctionName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'function names use letters, digits, _ and -');

/** A JSON Schema object (its validity is checked by the edge, which names the offending path). */
export const JsonSchemaObject = z.record(z.string(), z.unknown()).meta({ id: 'JsonSchema', description: 'A JSON Schema (draft 2020-12 subset)' });

export const FunctionToolSchema = z
  .object({
    type: z.literal('function'),
    function: z.object({
      name: FunctionName,
      description: z.string().max(8192).optional(),
      parameters: JsonSchemaObject.optional(),
      /** The arguments must validate against `parameters`; the edge checks the answer. */
      strict: z.boolean().nullish(),
    }),
  })
  .meta({ id: 'FunctionTool' });

export type FunctionTool = z.infer<typeof FunctionToolSchema>;

export const ToolChoiceSchema = z
  .union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: FunctionName }) })])
  .meta({ id: 'ToolChoice' });

export type ToolChoice = z.infer<typeof ToolChoiceSchema>;

/** One call of a function, as an assistant message carries it. */
export const ToolCallSchema = z
  .object({
    id: z.string().min(1).max(128),
    type: z.literal('function'),
    function: z.object({ name: FunctionName, arguments: z.string().max(256 * 1024) }),
  })
  .meta({ id: 'ToolCall' });

export type ToolCall = z.infer<typeof ToolCallSchema>;

/** A streamed fragment of a tool call: the first carries `id`, `type` and `function.name`, the rest `function.arguments` pieces. */
export const ToolCallDeltaSchema = z
  .object({
    index: z.number().int().min(0).max(MAX_TOOLS),
    id: z.string().min(1).max(128).optional(),
    type: z.literal('function').optional(),
    function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
  })
  .meta({ id: 'ToolCallDelta' });

export type ToolCallDelta = z.infer<typeof ToolCallDeltaSchema>;

export const ResponseFormatSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('text') }),
    z.object({ type: z.literal('json_object') }),
    z.object({
      type: z.literal('json_schema'),
      json_schema: z.object({
        name: FunctionName,
        description: z.string().max(8192).optional(),
        schema: JsonSchemaObject.optional(),
        strict: z.boolean().nullish(),
      }),
    }),
  ])
  .meta({ id: 'ResponseFormat' });

export type ResponseFormat = z.infer<typeof ResponseFormatSchema>;

/** Whole tool calls from their streamed fragments, in index order (how the SDKs assemble them). */
export function assembleToolCalls(deltas: Iterable<ToolCallDelta>): ToolCall[] {
  const calls = new Map<number, { id: string; name: string; arguments: string }>();
  for (const d of deltas) {
    const call = calls.get(d.index) ?? { id: '', name: '', arguments: '' };
    if (d.id) call.id = d.id;
    if (d.function?.name) call.name += d.function.name;
    if (d.function?.arguments) call.arguments += d.function.arguments;
    calls.set(d.index, call);
  }
  return [...calls.entries()]
    .sort(([a], [b]) => a - b)
    .map(([, c]) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
}

/** Whole tool calls as the fragments a stream sends: one opening delta (id, type, name) and one with the arguments, per call. */
export function toolCallDeltas(calls: readonly ToolCall[]): ToolCallDelta[] {
  return calls.flatMap((call, index) => [
    { index, id: call.id, type: 'function' as const, function: { name: call.function.name, arguments: '' } },
    ...(call.function.arguments === '' ? [] : [{ index, function: { arguments: call.function.arguments } }]),
  ]);
}
