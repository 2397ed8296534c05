/**
 * Tools and structured outputs of the reference model server's OpenAI chat format, emulated
 * deterministically: with tools offered, `tool_choice` `required` calls the first function, a named
 * choice calls that one, and `auto` calls the functions the last user turn names (or the first one
 * when it asks for a "tool"), several at once unless `parallel_tool_calls` is false. The arguments
 * validate against the function's `parameters`, and a `json_schema` response format (or TGI's
 * `{type: "json", value}`) gets JSON that validates against its schema; the `schemaViolation` knob makes both ignore the schema.
 */
import * as z from 'zod';
import { fnv1a } from '../generator';
import { sampleForSchema, violationFor } from '../schema-sample';

export const toolsField = z
  .array(z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string().min(1), parameters: z.unknown().optional() }) }))
  .nullish();
export const toolChoiceField = z
  .union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) })])
  .nullish();
export const responseFormatField = z
  .union([
    z.looseObject({ type: z.enum(['text', 'json_object']) }),
    z.looseObject({ type: z.literal('json_schema'), json_schema: z.looseObject({ name: z.string(), schema: z.unknown().optional() }) }),
    // TGI's Messages API takes its grammar form.
    z.looseObject({ type: z.literal('json'), value: z.unknown() }),
  ])
  .nullish();

/** A tool call the answer makes. */
export interface FixedToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
}

/** An answer decided by the request rather than sampled. */
export type FixedAnswer =
  | { readonly kind: 'tool_calls'; readonly calls: readonly FixedToolCall[] }
  /** `json`: output for a schema; `text`: a plain answer the request decides (what images it saw). */
  | { readonly kind: 'json' | 'text'; readonly text: string };

interface ChatToolsInput {
  readonly tools?: z.infer<typeof toolsField>;
  readonly tool_choice?: z.infer<typeof toolChoiceField>;
  readonly parallel_tool_calls?: boolean | null | undefined;
  readonly response_format?: z.infer<typeof responseFormatField>;
}

function calledTools(input: ChatToolsInput, lastUserText: string | undefined): string[] | { error: string } {
  const names = (input.tools ?? []).map((t) => t.function.name);
  const choice = input.tool_choice ?? (names.length > 0 ? 'auto' : 'none');
  if (choice === 'none' || names.length === 0) {
    if (typeof choice === 'object' || choice === 'required') return { error: 'tool_choice needs tools' };
    return [];
  }
  if (typeof choice === 'object')
    return names.includes(choice.function.name) ? [choice.function.name] : { error: `tool_choice: no function named '${choice.function.name}'` };
  if (choice === 'required') return [names[0]!];
  if (lastUserText === undefined) return [];
  const text = lastUserText.toLowerCase();
  const named = names.filter((n) => text.includes(n.toLowerCase()));
  const wanted = named.length > 0 ? named : /\btools?\b/.test(text) ? [names[0]!] : [];
  return input.parallel_tool_calls === false ? wanted.slice(0, 1) : wanted;
}

/**
 * The fixed answer for a chat request (tool calls or schema JSON), undefined when the model should
 * write text, or an error message for a tool choice that cannot be honoured.
 */
export function fixedAnswer(
  input: ChatToolsInput,
  prompt: string,
  lastUserText: string | undefined,
  violate: boolean,
): FixedAnswer | { error: string } | undefined {
  const called = calledTools(input, lastUserText);
  if ('error' in called) return called;
  const seed = fnv1a(prompt);
  if (called.length > 0) {
    const calls = called.map((name, i) => {
      const schema = input.tools?.find((t) => t.function.name === name)?.function.parameters;
      const value = violate ? violationFor(schema) : sampleForSchema(schema, seed + i);
      return { id: `call_${(seed + i).toString(16).padStart(8, '0')}`, name, arguments: JSON.stringify(value) };
    });
    return { kind: 'tool_calls', calls };
  }
  const format = input.response_format;
  if (format?.type === 'json_schema') {
    const schema = format.json_schema.schema;
    return { kind: 'json', text: JSON.stringify(violate ? violationFor(schema) : sampleForSchema(schema, seed)) };
  }
  if (format?.type === 'json') return { kind: 'json', text: JSON.stringify(violate ? violationFor(format.value) : sampleForSchema(format.value, seed)) };
  if (format?.type === 'json_object')
    return { kind: 'json', text: violate ? 'not json' : JSON.stringify(sampleForSchema({ type: 'object', properties: { answer: { type: 'string' } } }, seed)) };
  return undefined;
}
