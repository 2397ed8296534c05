/**
 * A Responses request's function tools, `tool_choice`, `parallel_tool_calls` and `text.format` as
 * the chat path's options (OpenAI's chat shapes: a tool's fields nest under `function`, a format's
 * under `json_schema`), so capabilities, the cache key, the backend payload and the edge's check of
 * structured output treat both surfaces alike. Each refusal is a 400 naming the Responses path.
 */
import type { ResponseCreateRequest } from '../../../shared/contracts/responses';
import type { FunctionTool, ResponseFormat, ToolChoice } from '../../../shared/contracts/tools';
import type { ChatOptions } from '../chat-input';
import { invalidField } from '../chat-input';
import { schemaProblem } from '../json-schema';

/** A function name as the chat contract takes it (tools, tool calls, response formats). */
export const FUNCTION_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function toolsOf(body: ResponseCreateRequest): FunctionTool[] | undefined {
  const tools = body.tools ?? [];
  if (tools.length === 0) return undefined;
  const names = new Set<string>();
  return tools.map((tool, i): FunctionTool => {
    if (tool.type !== 'function') throw invalidField(`tools.${i}.type`, `tool type '${tool.type}' is not supported (function tools only)`);
    const { name, description, parameters, strict } = tool as Extract<typeof tool, { name: string }>;
    if (names.has(name)) throw invalidField(`tools.${i}.name`, `duplicate function name '${name}'`);
    names.add(name);
    if (parameters) {
      const problem = schemaProblem(parameters, `tools.${i}.parameters`);
      if (problem) throw invalidField(problem.path, problem.message);
    }
    return {
      type: 'function',
      function: {
        name,
        ...(description ? { description } : {}),
        ...(parameters ? { parameters } : {}),
        ...(typeof strict === 'boolean' ? { strict } : {}),
      },
    };
  });
}

function toolChoiceOf(body: ResponseCreateRequest, tools: FunctionTool[] | undefined): ToolChoice | undefined {
  const choice = body.tool_choice ?? undefined;
  if (choice === undefined || choice === 'none' || choice === 'auto') return choice;
  if (!tools) throw invalidField('tool_choice', 'names or requires a tool, but no tools are given');
  if (choice === 'required') return choice;
  if (choice.type !== 'function') throw invalidField('tool_choice.type', `tool type '${choice.type}' is not supported (function tools only)`);
  const { name } = choice as unknown as { name: string };
  if (!tools.some((t) => t.function.name === name)) throw invalidField('tool_choice.name', `'${name}' is not one of the tools`);
  return { type: 'function', function: { name } };
}

function formatOf(body: ResponseCreateRequest): ResponseFormat | undefined {
  const format = body.text?.format;
  if (format === undefined || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  const { name, schema, strict, description } = format as typeof format & { description?: unknown };
  if (!FUNCTION_NAME.test(name)) throw invalidField('text.format.name', 'use letters, digits, _ and - (at most 64)');
  const problem = schemaProblem(schema, 'text.format.schema');
  if (problem) throw invalidField(problem.path, problem.message);
  return {
    type: 'json_schema',
    json_schema: {
      name,
      schema,
      ...(typeof description === 'string' ? { description: description.slice(0, 8192) } : {}),
      ...(typeof strict === 'boolean' ? { strict } : {}),
    },
  };
}

/** The chat options of a Responses request; throws ApiError (400) naming the first bad field. */
export function responsesOptions(body: ResponseCreateRequest): ChatOptions {
  const tools = toolsOf(body);
  const toolChoice = toolChoiceOf(body, tools);
  const format = formatOf(body);
  return {
    ...(tools ? { tools } : {}),
    ...(toolChoice ? { tool_choice: toolChoice } : {}),
    ...(tools && typeof body.parallel_tool_calls === 'boolean' ? { parallel_tool_calls: body.parallel_tool_calls } : {}),
    ...(format ? { response_format: format } : {}),
  };
}
