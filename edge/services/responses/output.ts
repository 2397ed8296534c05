/**
 * A Responses answer's output items as the model produces them: a `message` (one `output_text`
 * part) for its text and a `function_call` per tool call, in the order they began. A sync answer
 * is assembled at once (text, then calls); a stream's item by item, with the events the SDKs'
 * stream helpers read (each item's `output_item.added` … `output_item.done`), so a stream's
 * `response.completed` carries exactly the items its events built.
 */
import type { TokenData } from '../../../shared/contracts/backend';
import type { ResponseOutputFunctionCall, ResponseOutputItem, ResponseOutputMessage } from '../../../shared/contracts/responses';
import type { ToolCall } from '../../../shared/contracts/tools';

type ItemStatus = ResponseOutputMessage['status'];
type Send = (type: string, fields: Record<string, unknown>) => string;

/** Item ids derive from the response's, so a stream and its stored answer agree. */
const base = (responseId: string) => responseId.replace(/^resp_/, '');
const messageId = (responseId: string, outputIndex: number) => `msg_${base(responseId)}${outputIndex === 0 ? '' : `_${outputIndex}`}`;
const callItemId = (responseId: string, outputIndex: number) => `fc_${base(responseId)}_${outputIndex}`;

export function messageItem(id: string, text: string, status: ItemStatus): ResponseOutputMessage {
  return { id, type: 'message', role: 'assistant', status, content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] };
}

function callItem(id: string, call: { id: string; name: string; arguments: string }, status: ItemStatus): ResponseOutputFunctionCall {
  return { id, type: 'function_call', call_id: call.id, name: call.name, arguments: call.arguments, status };
}

/** The output of a whole answer: its text as a message (also when empty and nothing was called), then its calls. */
export function outputItems(responseId: string, text: string, calls: readonly ToolCall[], status: ItemStatus): ResponseOutputItem[] {
  const items: ResponseOutputItem[] = text !== '' || calls.length === 0 ? [messageItem(messageId(responseId, 0), text, status)] : [];
  for (const call of calls) items.push(callItem(callItemId(responseId, items.length), { id: call.id, ...call.function }, 'completed'));
  return items;
}

/** The SDKs' `output_text`: the text of every message item, joined. */
export const outputText = (items: readonly ResponseOutputItem[]) =>
  items.flatMap((item) => (item.type === 'message' ? item.content.map((p) => p.text) : [])).join('');

type Open =
  | { readonly kind: 'message'; readonly id: string; text: string }
  | { readonly kind: 'call'; readonly id: string; readonly index: number; readonly call: { id: string; name: string; arguments: string } };

/**
 * A stream's output items, opened as the model starts each (text, or a tool call's first
 * fragment) and closed when the next begins or the answer ends.
 */
export class StreamOutput {
  private readonly items: Open[] = [];
  private readonly calls = new Map<number, Open & { kind: 'call' }>();

  constructor(
    private readonly responseId: string,
    private readonly send: Send,
  ) {}

  private get current(): Open | undefined {
    return this.items.at(-1);
  }

  /** Opens a message item now (a request without tools streams its text item from the start). */
  openMessage(): string {
    const closing = this.closeCurrent('completed');
    const id = messageId(this.responseId, this.items.length);
    const part = { item_id: id, output_index: this.items.length, content_index: 0 };
    this.items.push({ kind: 'message', id, text: '' });
    return [
      closing,
      this.send('response.output_item.added', { output_index: part.output_index, item: { ...messageItem(id, '', 'in_progress'), content: [] } }),
      this.send('response.content_part.added', { ...part, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } }),
    ].join('');
  }

  /** The events of one backend token: text deltas, or tool-call fragments. */
  token(token: TokenData): string {
    let out = '';
    if (!token.tool_calls || token.text !== '') {
      const open = this.current;
      if (open?.kind !== 'message') out += this.openMessage();
      const message = this.current as Open & { kind: 'message' };
      message.text += token.text;
      const outputIndex = this.items.length - 1;
      out += this.send('response.output_text.delta', { item_id: message.id, output_index: outputIndex, content_index: 0, delta: token.text, logprobs: [] });
    }
    for (const delta of token.tool_calls ?? []) {
      let call = this.calls.get(delta.index);
      if (!call) {
        out += this.closeCurrent('completed');
        const outputIndex = this.items.length;
        const id = delta.id ?? `call_${base(this.responseId)}_${delta.index}`;
        call = {
          kind: 'call',
          id: callItemId(this.responseId, outputIndex),
          index: delta.index,
          call: { id, name: delta.function?.name ?? '', arguments: '' },
        };
        this.items.push(call);
        this.calls.set(delta.index, call);
        out += this.send('response.output_item.added', { output_index: outputIndex, item: callItem(call.id, call.call, 'in_progress') });
      } else if (delta.function?.name) call.call.name += delta.function.name;
      const piece = delta.function?.arguments ?? '';
      if (piece === '') continue;
      call.call.arguments += piece;
      out += this.send('response.function_call_arguments.delta', { item_id: call.id, output_index: this.items.indexOf(call), delta: piece });
    }
    return out;
  }

  /** The items as they stand, finished with `status` (an empty message when the model produced nothing). */
  final(status: ItemStatus): ResponseOutputItem[] {
    if (this.items.length === 0) return [messageItem(messageId(this.responseId, 0), '', status)];
    return this.items.map((item) => (item.kind === 'message' ? messageItem(item.id, item.text, status) : callItem(item.id, item.call, 'completed')));
  }

  /** The closing events of the open item (and the whole empty message when nothing was produced). */
  finish(status: ItemStatus): string {
    return (this.items.length === 0 ? this.openMessage() : '') + this.closeCurrent(status);
  }

  private closeCurrent(status: ItemStatus): string {
    const open = this.current;
    if (!open) return '';
    const outputIndex = this.items.length - 1;
    if (open.kind === 'call') {
      const item = callItem(open.id, open.call, 'completed');
      return [
        this.send('response.function_call_arguments.done', {
          item_id: open.id,
          output_index: outputIndex,
          name: open.call.name,
          arguments: open.call.arguments,
        }),
        this.send('response.output_item.done', { output_index: outputIndex, item }),
      ].join('');
    }
    const part = { item_id: open.id, output_index: outputIndex, content_index: 0 };
    const done = { type: 'output_text', text: open.text, annotations: [], logprobs: [] };
    return [
      this.send('response.output_text.done', { ...part, text: open.text, logprobs: [] }),
      this.send('response.content_part.done', { ...part, part: done }),
      this.send('response.output_item.done', { output_index: outputIndex, item: messageItem(open.id, open.text, status) }),
    ].join('');
  }
}
