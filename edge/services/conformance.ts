/**
 * Structured outputs are checked at the edge: with a strict `json_schema` response format (or
 * `json_object`, which must at least be JSON) and for the arguments of `strict` tools, a model's
 * final output is validated before it counts as an answer. A sync answer that does not conform is
 * asked for once more (services/upstream.ts); a stream's is ended with an `error` event in place of
 * its `done`, so it is neither a success for the client nor a cache entry.
 */
import type { BackendInferRequestInput, BackendInferResponse, BackendStreamEvent } from '../../shared/contracts/backend';
import { type ToolCall, type ToolCallDelta, assembleToolCalls } from '../../shared/contracts/tools';
import { schemaMismatch } from './json-schema';

type Schema = Record<string, unknown>;

/** The schemas a request's output must conform to. */
export interface OutputSchemas {
  /** The response format's schema (`{}` for `json_object`: any JSON) and its name. */
  readonly response?: { readonly name: string; readonly schema: Schema };
  /** The `parameters` of each strict tool, by function name. */
  readonly tools: ReadonlyMap<string, Schema>;
}

/** What `payload`'s output must conform to, or undefined when nothing is checked. */
export function outputSchemas(payload: BackendInferRequestInput): OutputSchemas | undefined {
  if (!('messages' in payload)) return undefined;
  const format = payload.response_format;
  const response =
    format?.type === 'json_object'
      ? { name: 'json_object', schema: {} }
      : format?.type === 'json_schema' && format.json_schema.strict === true
        ? { name: format.json_schema.name, schema: format.json_schema.schema ?? {} }
        : undefined;
  const tools = new Map((payload.tools ?? []).filter((t) => t.function.strict === true).map((t) => [t.function.name, t.function.parameters ?? {}] as const));
  return response || tools.size > 0 ? { ...(response ? { response } : {}), tools } : undefined;
}

/** Why one choice does not conform (naming the tool or format and the place in the output), or undefined. */
function choiceMismatch(schemas: OutputSchemas, output: string, toolCalls: readonly ToolCall[] | undefined): string | undefined {
  if (toolCalls && toolCalls.length > 0) {
    for (const call of toolCalls) {
      const schema = schemas.tools.get(call.function.name);
      const problem = schema && schemaMismatch(schema, call.function.arguments);
      if (problem) return `arguments of tool call '${call.function.name}' do not match its schema: ${problem}`;
    }
    return undefined;
  }
  const response = schemas.response;
  const problem = response && schemaMismatch(response.schema, output);
  return problem ? `output does not match response_format '${response.name}': ${problem}` : undefined;
}

/** Why an answer (any of its choices) does not conform, or undefined. */
export function mismatchOf(schemas: OutputSchemas, result: BackendInferResponse): string | undefined {
  const choices = [{ index: 0, output: result.output, tool_calls: result.tool_calls }, ...(result.more_choices ?? [])];
  for (const choice of choices) {
    const mismatch = choiceMismatch(schemas, choice.output, choice.tool_calls);
    if (mismatch) return choices.length > 1 ? `choice ${choice.index}: ${mismatch}` : mismatch;
  }
  return undefined;
}

/**
 * Passes a backend stream through, checking the whole output when `done` arrives: a mismatch is
 * reported to `onMismatch` and sent as an UPSTREAM_ERROR `error` event instead of the `done`.
 */
export async function* conformingStream(
  events: AsyncGenerator<BackendStreamEvent, void, undefined>,
  schemas: OutputSchemas,
  onMismatch: (mismatch: string) => void,
): AsyncGenerator<BackendStreamEvent, void, undefined> {
  const outputs: string[] = [];
  const deltas: ToolCallDelta[][] = [];
  try {
    for await (const event of events) {
      if (event.event === 'token') {
        const i = event.data.index ?? 0;
        outputs[i] = (outputs[i] ?? '') + event.data.text;
        if (event.data.tool_calls) deltas[i] = [...(deltas[i] ?? []), ...event.data.tool_calls];
      } else if (event.event === 'done') {
        const choice = (i: number) => ({ output: outputs[i] ?? '', ...(deltas[i] ? { tool_calls: assembleToolCalls(deltas[i]) } : {}) });
        const count = Math.max(outputs.length, deltas.length, 1);
        const more = Array.from({ length: count - 1 }, (_, i) => ({ index: i + 1, ...choice(i + 1) }));
        const mismatch = mismatchOf(schemas, { ...choice(0), usage: event.data.usage, model_latency_ms: 0, more_choices: more });
        if (mismatch) {
          onMismatch(mismatch);
          yield { event: 'error', data: { code: 'UPSTREAM_ERROR', message: `the model's ${mismatch}` } };
          return;
        }
      }
      yield event;
    }
  } finally {
    await events.return(undefined);
  }
}
