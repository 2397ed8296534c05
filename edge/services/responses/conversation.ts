/**
 * A Responses API request in the gateway's terms: its input items after the conversation its
 * `previous_response_id` continues (kept as items, OpenAI's own form, to store with the answer),
 * read as turns, and what its answer echoes. Then lowered to the chat path's NormalizedRequest:
 * `function_call` items become an assistant turn's tool calls (consecutive ones, and the assistant
 * message before them, one turn), `function_call_output` items `tool` turns answering them, and
 * tools, `tool_choice` and `text.format` the chat options (./tools.ts). What the gateway cannot
 * honour is refused by name instead of dropped.
 */
import type * as z from 'zod';
import type { ChatMessage } from '../../../shared/contracts/backend';
import type { ToolCall } from '../../../shared/contracts/tools';
import { MAX_PROMPT_CHARS } from '../../../shared/contracts/infer';
import { RESPONSE_INPUT_ITEMS, type ResponseCreateRequest, type ResponseInputItem } from '../../../shared/contracts/responses';
import { ApiError } from '../../errors';
import type { NormalizedRequest } from '../translate';
import { FUNCTION_NAME, responsesOptions } from './tools';

/** One turn of a conversation: a message, a tool call the model made, or that call's result. */
type Turn =
  | { readonly type: 'message'; readonly role: 'system' | 'developer' | 'user' | 'assistant'; readonly text: string }
  | { readonly type: 'function_call'; readonly callId: string; readonly name: string; readonly arguments: string }
  | { readonly type: 'function_call_output'; readonly callId: string; readonly output: string };

/** What a Responses answer echoes and stores, carried on the NormalizedRequest. */
export interface ResponsesContext {
  /** The conversation's input items, `instructions` excluded: the earlier conversation's, then this request's. */
  readonly input: readonly unknown[];
  /** How many of `input` came from `previous_response_id`. */
  readonly priorItems: number;
  readonly instructions: string | null;
  readonly previousResponseId: string | null;
  /** The answer is stored (`store` not false, and storing enabled). */
  readonly store: boolean;
  readonly metadata: Readonly<Record<string, string>>;
  readonly maxOutputTokens: number | null;
  readonly temperature: number | null;
  readonly topP: number | null;
  readonly toolChoice: ResponseCreateRequest['tool_choice'];
  readonly tools: readonly unknown[];
  readonly parallelToolCalls: boolean;
  readonly textFormat: { readonly type: string } & Readonly<Record<string, unknown>>;
  readonly user?: string;
}

type Issue = { path: string; message: string };

const invalid = (message: string, issues: Issue[]) => new ApiError('INVALID_INPUT', message, { details: { issues } });

/**
 * Schema issues with their full paths; a union's failure is reported from the one branch the
 * value's shape chose (a content array's part, not "invalid input" at the content).
 */
function precise(issues: readonly z.core.$ZodIssue[], base: readonly PropertyKey[]): Issue[] {
  return issues.flatMap((issue): Issue[] => {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union') {
      if (issue.errors.length === 0 && 'discriminator' in issue) return [{ path: path.map(String).join('.'), message: 'unknown type' }];
      const rootType = (branch: readonly z.core.$ZodIssue[]) => branch.find((b) => b.path.length === 0 && b.code === 'invalid_type');
      const chosen = issue.errors.filter((branch) => !rootType(branch));
      if (chosen.length === 1 && chosen[0]) return precise(chosen[0], path);
      if (chosen.length === 0) {
        const expected = issue.errors.map((branch) => (rootType(branch) as { expected?: string } | undefined)?.expected ?? 'another type');
        return [{ path: path.map(String).join('.'), message: `expected ${[...new Set(expected)].join(' or ')}` }];
      }
    }
    return [{ path: path.map(String).join('.'), message: issue.message }];
  });
}

/** Why `input` is not a valid Responses input, item by item and field by field; empty when it is. */
export function inputIssues(input: unknown): Issue[] {
  if (typeof input === 'string') return input.length === 0 ? [{ path: 'input', message: 'must not be empty' }] : [];
  if (!Array.isArray(input)) return [{ path: 'input', message: 'must be a string or an array of input items' }];
  if (input.length === 0) return [{ path: 'input', message: 'must not be empty' }];
  const issues: Issue[] = [];
  input.forEach((item: unknown, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      issues.push({ path: `input.${i}`, message: 'must be an input item object' });
      return;
    }
    const type = (item as { type?: unknown }).type ?? 'message';
    if (typeof type !== 'string' || !Object.hasOwn(RESPONSE_INPUT_ITEMS, type)) {
      const known = Object.keys(RESPONSE_INPUT_ITEMS).join(', ');
      issues.push({ path: `input.${i}.type`, message: `unknown item type ${JSON.stringify(type)} (this gateway takes ${known})` });
      return;
    }
    const parsed = RESPONSE_INPUT_ITEMS[type as keyof typeof RESPONSE_INPUT_ITEMS].safeParse(item);
    if (!parsed.success) issues.push(...precise(parsed.error.issues, ['input', i]));
  });
  return issues;
}

type Part = { type: string; text?: string; refusal?: string };

/** The text of a content list; image, file and audio parts are refused by path. */
function textOf(content: string | readonly Part[], path: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      if (part.type === 'input_text' || part.type === 'output_text') return part.text ?? '';
      if (part.type === 'refusal') return part.refusal ?? '';
      throw invalid(`${path}.${j}: ${part.type} parts are not supported by this gateway`, [
        { path: `${path}.${j}.type`, message: `${part.type} is not supported (text parts only)` },
      ]);
    })
    .join('');
}

/** The request's `input` as items: a string is one user message. */
export function inputItems(input: ResponseCreateRequest['input']): ResponseInputItem[] {
  return typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : input;
}

/**
 * Items as turns. Items of the request were validated by the route; the stored conversation's are
 * checked here too (a natively served model may have answered with items this path cannot read).
 */
function turnsOf(items: readonly unknown[], priorItems: number): Turn[] {
  return items.map((raw, i): Turn => {
    const path = i < priorItems ? 'previous_response_id' : `input.${i - priorItems}`;
    const type = (raw as { type?: unknown }).type ?? 'message';
    const schema =
      typeof type === 'string' && Object.hasOwn(RESPONSE_INPUT_ITEMS, type) ? RESPONSE_INPUT_ITEMS[type as keyof typeof RESPONSE_INPUT_ITEMS] : undefined;
    const parsed = schema?.safeParse(raw);
    if (!parsed?.success)
      throw invalid(`${path}: the conversation holds a ${String(type)} item this model cannot take`, [{ path, message: `${String(type)} item` }]);
    const item = parsed.data as ResponseInputItem;
    if (item.type === 'function_call') return { type: 'function_call', callId: item.call_id, name: item.name, arguments: item.arguments };
    if (item.type === 'function_call_output') return { type: 'function_call_output', callId: item.call_id, output: textOf(item.output, `${path}.output`) };
    return { type: 'message', role: item.role, text: textOf(item.content, i < priorItems ? path : `${path}.content`) };
  });
}

/** Refuses what a request asks for that the gateway cannot honour, naming each parameter. */
function refuseUnsupported(body: ResponseCreateRequest, model: string): void {
  const issues: Issue[] = [];
  const raw = body as Record<string, unknown>;
  const set = (v: unknown) => v !== undefined && v !== null && v !== false && !(Array.isArray(v) && v.length === 0);
  for (const field of ['background', 'conversation', 'prompt', 'context_management'])
    if (set(raw[field])) issues.push({ path: field, message: 'not supported by this gateway' });
  if (typeof raw.top_logprobs === 'number' && raw.top_logprobs > 0) issues.push({ path: 'top_logprobs', message: 'logprobs are not supported yet' });
  const reasoning = raw.reasoning as Record<string, unknown> | null | undefined;
  if (reasoning && typeof reasoning === 'object' && Object.values(reasoning).some(set))
    issues.push({ path: 'reasoning', message: `model '${model}' has no reasoning settings` });
  for (const [i, tool] of (body.tools ?? []).entries())
    if (tool.type !== 'function') issues.push({ path: `tools.${i}.type`, message: `tool type '${tool.type}' is not supported (function tools only)` });
  if (body.truncation === 'auto') issues.push({ path: 'truncation', message: "only 'disabled' is supported" });
  const includes = (body.include ?? []).filter((v) => v !== 'reasoning.encrypted_content');
  if (includes.length > 0) issues.push({ path: 'include', message: `cannot include ${includes.join(', ')}` });
  if (issues.length > 0) throw invalid(`unsupported parameter: ${[...new Set(issues.map((i) => i.path))].join(', ')}`, issues);
}

/**
 * Lowers turns to the contract's chat messages. A `function_call_output` must answer a call made
 * earlier in the conversation (its path is `previous_response_id` when the stored one holds it).
 */
function lower(instructions: string | null, turns: readonly Turn[], priorItems: number): ChatMessage[] {
  const messages: ChatMessage[] = instructions ? [{ role: 'system', content: instructions }] : [];
  const calls = new Set<string>();
  turns.forEach((turn, i) => {
    const path = i < priorItems ? 'previous_response_id' : `input.${i - priorItems}`;
    if (turn.type === 'message') {
      messages.push({ role: turn.role === 'developer' ? 'system' : turn.role, content: turn.text });
      return;
    }
    if (turn.type === 'function_call_output') {
      if (!calls.has(turn.callId))
        throw invalid(`${path}.call_id: '${turn.callId}' matches no earlier function_call`, [
          { path: i < priorItems ? path : `${path}.call_id`, message: `'${turn.callId}' matches no earlier function_call` },
        ]);
      messages.push({ role: 'tool', content: turn.output, tool_call_id: turn.callId });
      return;
    }
    // The contract's tool calls name functions as tools do (a stored native answer may not).
    if (!FUNCTION_NAME.test(turn.name))
      throw invalid(`${path}: function name '${turn.name}' is not a usable one`, [
        { path: i < priorItems ? path : `${path}.name`, message: 'use letters, digits, _ and - (at most 64)' },
      ]);
    calls.add(turn.callId);
    const call: ToolCall = { id: turn.callId, type: 'function', function: { name: turn.name, arguments: turn.arguments } };
    const last = messages.at(-1);
    // A model's answer is one assistant turn: its text, then the calls it made in parallel.
    if (last?.role === 'assistant') {
      messages[messages.length - 1] = { ...last, tool_calls: [...(last.tool_calls ?? []), call] };
    } else messages.push({ role: 'assistant', content: '', tool_calls: [call] });
  });
  const length = messages.reduce((n, m) => n + m.content.length, 0);
  if (length === 0 && !messages.some((m) => m.tool_calls)) throw invalid('input contains no text', [{ path: 'input', message: 'empty' }]);
  const where = priorItems > 0 ? 'previous_response_id' : 'input';
  if (length > MAX_PROMPT_CHARS) throw invalid(`the conversation exceeds ${MAX_PROMPT_CHARS} characters`, [{ path: where, message: 'too long' }]);
  if (messages.length > 256) throw invalid('the conversation has more than 256 messages', [{ path: where, message: 'too many turns' }]);
  return messages;
}

export interface ConversationOptions {
  /** The stored conversation `previous_response_id` continues: its input items, then its answer's output items. */
  readonly prior?: readonly unknown[];
  /** Storing is enabled (a TTL above 0). */
  readonly storing: boolean;
  /** The plan's largest `max_output_tokens`. */
  readonly maxTokens: number;
}

/** The Responses request as a NormalizedRequest of the chat path, or a 400 naming what it cannot honour. */
export function fromResponses(body: ResponseCreateRequest, options: ConversationOptions): NormalizedRequest {
  refuseUnsupported(body, body.model);
  const requested = body.max_output_tokens ?? undefined;
  if (requested !== undefined && requested > options.maxTokens) {
    throw invalid(`max_output_tokens ${requested} exceeds this plan's limit of ${options.maxTokens}`, [
      { path: 'max_output_tokens', message: `at most ${options.maxTokens}` },
    ]);
  }
  const prior = options.prior ?? [];
  const input = [...prior, ...inputItems(body.input)];
  const instructions = body.instructions ?? null;
  const chatOptions = responsesOptions(body);
  const messages = lower(instructions, turnsOf(input, prior.length), prior.length);
  const params = Object.fromEntries(
    Object.entries({ max_tokens: requested, temperature: body.temperature, top_p: body.top_p }).filter(([, v]) => v !== undefined && v !== null),
  );
  return {
    flavour: 'responses',
    model: body.model,
    input: { messages },
    chat: { options: chatOptions, imageParts: 0 },
    params,
    stream: body.stream === true,
    includeUsage: true,
    responses: {
      input,
      priorItems: prior.length,
      instructions,
      previousResponseId: body.previous_response_id ?? null,
      store: options.storing && body.store !== false,
      metadata: body.metadata ?? {},
      maxOutputTokens: body.max_output_tokens ?? null,
      temperature: body.temperature ?? null,
      topP: body.top_p ?? null,
      toolChoice: body.tool_choice ?? 'auto',
      tools: body.tools ?? [],
      parallelToolCalls: body.parallel_tool_calls ?? true,
      textFormat: body.text?.format ?? { type: 'text' },
      ...(body.user !== undefined ? { user: body.user } : {}),
    },
  };
}
