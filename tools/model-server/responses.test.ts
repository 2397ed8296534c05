import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generationFor } from './formats';
import { startModelServer, type ModelServer } from './server';

let server: ModelServer;
let openai: OpenAI;

beforeAll(async () => {
  server = await startModelServer();
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const tools = [{ type: 'function' as const, name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: false }];

describe('Responses API (vLLM)', () => {
  it('answers what chat completions answer for the same conversation', async () => {
    const response = await openai.responses.create({ model: 'm', instructions: 'Be terse.', input: 'Name a river.', max_output_tokens: 9, temperature: 0 });
    const chat = generationFor({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Name a river.' },
      ],
      max_tokens: 9,
      temperature: 0,
    });
    expect(response.object).toBe('response');
    expect(response.output_text).toBe(chat.text);
    expect(response.status).toBe('incomplete');
    expect(response.usage).toMatchObject({ input_tokens: chat.promptTokens, output_tokens: 9 });
    expect(server.stats().byRoute['openai.responses']).toMatchObject({ invocations: 1 });
  });

  it('streams the event sequence the SDK helper assembles', async () => {
    const stream = openai.responses.stream({ model: 'm', input: [{ role: 'user', content: 'Stream.' }], max_output_tokens: 6 });
    const types: string[] = [];
    stream.on('event', (e) => types.push(e.type));
    const final = await stream.finalResponse();
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    const message = final.output[0];
    expect(message?.type === 'message' && message.content[0]?.type === 'output_text' && message.content[0].text.length).toBeGreaterThan(0);
    expect(final.usage?.output_tokens).toBe(6);
  });

  it('calls a required function tool, sync and streamed, and takes its output back', async () => {
    const called = await openai.responses.create({ model: 'm', input: 'Weather in Oslo?', tools, tool_choice: 'required' });
    const call = called.output[0];
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{}' });
    const stream = openai.responses.stream({ model: 'm', input: 'Weather in Oslo?', tools, tool_choice: { type: 'function', name: 'get_weather' } });
    const deltas: string[] = [];
    stream.on('response.function_call_arguments.delta', (e) => deltas.push(e.delta));
    expect((await stream.finalResponse()).output[0]).toMatchObject({ type: 'function_call', name: 'get_weather' });
    expect(deltas).toEqual(['{}']);
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    const answer = await openai.responses.create({
      model: 'm',
      input: [{ role: 'user', content: 'Weather in Oslo?' }, call, { type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
      tools,
    });
    expect(answer.output[0]?.type).toBe('message');
  });
});
