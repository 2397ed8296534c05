/**
 * An OpenAI chat request's messages and options in the backend contract's terms, with the checks
 * that need the whole request: tool schemas are usable JSON Schemas within their size cap, a named
 * `tool_choice` names an offered tool, every `tool` turn answers an earlier call. The legacy
 * `functions`/`function_call` are mapped to tools (an assistant `function_call` and the `function`
 * turn answering it become a tool call and its `tool` turn, with an id of the gateway's).
 * Every refusal is a 400 INVALID_INPUT naming the path.
 */
import type { ChatMessage } from '../../shared/contracts/backend';
import type { ChatCompletionRequest, OpenAiMessage } from '../../shared/contracts/openai';
import type { FunctionTool, ResponseFormat, ToolCall, ToolChoice } from '../../shared/contracts/tools';
import { ApiError } from '../errors';
import { schemaProblem } from './json-schema';

/** What a chat request adds to its messages (the backend contract's ChatOptionsShape). */
export interface ChatOptions {
  readonly tools?: FunctionTool[];
  readonly tool_choice?: ToolChoice;
  readonly parallel_tool_calls?: boolean;
  readonly response_format?: ResponseFormat;
  readonly logprobs?: boolean;
  readonly top_logprobs?: number;
  readonly n?: number;
}

/** A chat request's turns and options, and how many image parts it holds. */
export interface ChatInput {
  readonly messages: ChatMessage[];
  readonly options: ChatOptions;
  readonly imageParts: number;
}

/** A 400 INVALID_INPUT for one field. */
export function invalidField(path: string, message: string): ApiError {
  return new ApiError('INVALID_INPUT', `${path}: ${message}`, { details: { issues: [{ path, message }] } });
}

const textOf = (content: string | readonly { text: string }[] | null | undefined): string =>
  typeof content === 'string' ? content : (content ?? []).map((p) => p.text).join('');

function toolsOf(req: ChatCompletionRequest): FunctionTool[] | undefined {
  if (req.tools && req.functions) throw invalidField('functions', 'send either tools or the legacy functions, not both');
  const tools = req.tools ?? req.functions?.map((f): FunctionTool => ({ type: 'function', function: f }));
  if (!tools || tools.length === 0) return undefined;
  const names = new Set<string>();
  for (const [i, tool] of tools.entries()) {
    const at = req.tools ? `tools.${i}.function` : `functions.${i}`;
    if (names.has(tool.function.name)) throw invalidField(`${at}.name`, `duplicate function name '${tool.function.name}'`);
    names.add(tool.function.name);
    if (tool.function.parameters === undefined) continue;
    const problem = schemaProblem(tool.function.parameters, `${at}.parameters`);
    if (problem) throw invalidField(problem.path, problem.message);
  }
  return tools;
}

function toolChoiceOf(req: ChatCompletionRequest, tools: FunctionTool[] | undefined): ToolChoice | undefined {
  if (req.tool_choice && req.function_call) throw invalidField('function_call', 'send either tool_choice or the legacy function_call, not both');
  const legacy = req.function_call;
  const choice: ToolChoice | undefined =
    req.tool_choice ?? (legacy === undefined || legacy === null ? undefined : typeof legacy === 'string' ? legacy : { type: 'function', function: legacy });
  const path = req.tool_choice ? 'tool_choice' : 'function_call';
  if (choice === undefined || choice === 'none') return choice;
  if (!tools) throw invalidField(path, 'needs tools');
  if (typeof choice === 'object' && !tools.some((t) => t.function.name === choice.function.name)) {
    throw invalidField(req.tool_choice ? 'tool_choice.function.name' : 'function_call.name', `'${choice.function.name}' is not one of the tools`);
  }
  return choice;
}

function responseFormatOf(req: ChatCompletionRequest): ResponseFormat | undefined {
  const format = req.response_format ?? undefined;
  if (format?.type !== 'json_schema' || format.json_schema.schema === undefined) return format;
  const problem = schemaProblem(format.json_schema.schema, 'response_format.json_schema.schema');
  if (problem) throw invalidField(problem.path, problem.message);
  return format;
}

/** The turns in contract form, checking each `tool` turn against the calls made before it. */
function turnsOf(messages: readonly OpenAiMessage[]): { turns: ChatMessage[]; imageParts: number } {
  const calls = new Set<string>();
  let legacyCall: string | undefined;
  let imageParts = 0;
  const turns = messages.map((m, i): ChatMessage => {
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'system', content: textOf(m.content) };
      case 'user':
        if (typeof m.content === 'string') return { role: 'user', content: m.content };
        {
          const content = m.content.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('');
          const images = m.content.filter((p) => p.type === 'image_url').length;
          imageParts += images;
          // The client's image URLs stay here until the edge inlines them (services/images.ts).
          return images === 0 ? { role: 'user', content } : { role: 'user', content, parts: m.content.map((p) => ({ ...p })) };
        }
      case 'assistant': {
        if (m.tool_calls && m.function_call) throw invalidField(`messages.${i}.function_call`, 'send either tool_calls or the legacy function_call');
        let toolCalls: ToolCall[] | undefined = m.tool_calls ?? undefined;
        if (m.function_call) {
          legacyCall = `call_legacy_${i}`;
          toolCalls = [{ id: legacyCall, type: 'function', function: m.function_call }];
        }
        for (const call of toolCalls ?? []) calls.add(call.id);
        const content = textOf(m.content);
        if (!toolCalls && content === '') throw invalidField(`messages.${i}.content`, 'an assistant turn needs content or tool_calls');
        return { role: 'assistant', content, ...(toolCalls ? { tool_calls: toolCalls } : {}) };
      }
      case 'tool':
        if (!calls.has(m.tool_call_id)) throw invalidField(`messages.${i}.tool_call_id`, `'${m.tool_call_id}' matches no earlier tool call`);
        return { role: 'tool', content: textOf(m.content), tool_call_id: m.tool_call_id };
      default: {
        // role 'function': the legacy reply to the assistant's last function_call.
        if (legacyCall === undefined) throw invalidField(`messages.${i}`, 'a function turn must follow an assistant function_call');
        const id = legacyCall;
        legacyCall = undefined;
        return { role: 'tool', content: m.content ?? '', tool_call_id: id };
      }
    }
  });
  return { turns, imageParts };
}

/** The chat request's input; throws ApiError (400) naming the first bad field. */
export function chatInput(req: ChatCompletionRequest): ChatInput {
  const tools = toolsOf(req);
  const toolChoice = toolChoiceOf(req, tools);
  const responseFormat = responseFormatOf(req);
  const { turns, imageParts } = turnsOf(req.messages);
  const topLogprobs = req.top_logprobs ?? undefined;
  if (topLogprobs !== undefined && req.logprobs !== true) throw invalidField('top_logprobs', 'needs logprobs: true');
  const options: ChatOptions = {
    ...(tools ? { tools } : {}),
    ...(toolChoice ? { tool_choice: toolChoice } : {}),
    ...(tools && typeof req.parallel_tool_calls === 'boolean' ? { parallel_tool_calls: req.parallel_tool_calls } : {}),
    ...(responseFormat && responseFormat.type !== 'text' ? { response_format: responseFormat } : {}),
    ...(req.logprobs === true ? { logprobs: true, ...(topLogprobs !== undefined ? { top_logprobs: topLogprobs } : {}) } : {}),
    ...(req.n && req.n > 1 ? { n: req.n } : {}),
  };
  return { messages: turns, options, imageParts };
}
