/**
 * The stream's output items (pure logic): text then tool calls open and close their items in
 * order, argument fragments go to their call's item, and the final items are what the events built.
 */
import { describe, expect, it } from 'vitest';
import { StreamOutput } from './output';

function recorder() {
  const events: Array<Record<string, unknown> & { type: string }> = [];
  const send = (type: string, fields: Record<string, unknown>) => {
    events.push({ type, ...fields });
    return type;
  };
  return { events, output: new StreamOutput('resp_abc', send) };
}

describe('StreamOutput', () => {
  it('streams text, then two calls, each item closed before the next opens', () => {
    const { events, output } = recorder();
    output.token({ text: 'Checking. ' });
    output.token({ text: '', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] });
    output.token({
      text: '',
      tool_calls: [
        { index: 0, function: { arguments: '{"city":' } },
        { index: 0, function: { arguments: '"Oslo"}' } },
      ],
    });
    output.token({ text: '', tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] });
    const final = output.final('completed');
    output.finish('completed');
    expect(events.map((e) => e.type)).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
    ]);
    expect(final).toEqual([
      {
        id: 'msg_abc',
        type: 'message',
        role: 'assistant',
        status: 'completed',
        content: [{ type: 'output_text', text: 'Checking. ', annotations: [], logprobs: [] }],
      },
      { id: 'fc_abc_1', type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}', status: 'completed' },
      { id: 'fc_abc_2', type: 'function_call', call_id: 'call_b', name: 'get_time', arguments: '{}', status: 'completed' },
    ]);
    expect(events[9]).toMatchObject({ item_id: 'fc_abc_1', output_index: 1, name: 'get_weather', arguments: '{"city":"Oslo"}' });
    expect(events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.output_index)).toEqual([1, 1, 2]);
  });

  it('answers an empty message when the model produced nothing', () => {
    const { events, output } = recorder();
    expect(output.final('incomplete')).toEqual([
      { id: 'msg_abc', type: 'message', role: 'assistant', status: 'incomplete', content: [{ type: 'output_text', text: '', annotations: [], logprobs: [] }] },
    ]);
    output.finish('incomplete');
    expect(events.map((e) => e.type)).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
    ]);
  });
});
