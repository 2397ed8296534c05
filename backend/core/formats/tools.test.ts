/** Tools through the container formats: OpenAI chat carries them natively; text-only formats refuse them. */
import { describe, expect, it } from 'vitest';
import { BackendInferRequestSchema } from '../../../shared/contracts/backend';
import { BadRequestError } from '../errors';
import { FORMATS, type ContainerModel } from './index';

const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true } };
const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
const messages = [
  { role: 'user', content: 'Weather in Paris?' },
  { role: 'assistant', content: '', tool_calls: [call] },
  { role: 'tool', content: 'sunny', tool_call_id: 'call_1' },
];
const chatReq = (over: Record<string, unknown> = {}) => BackendInferRequestSchema.parse({ request_id: 'r1', tenant_id: 't1', model: 'm', messages, ...over });
const model = (format: ContainerModel['format']): ContainerModel => ({ format, chatTemplate: 'default', modelId: 'served' });

describe('OpenAI chat format with tools', () => {
  it('passes tools, tool_choice, parallel_tool_calls, response_format and tool turns as OpenAI takes them', () => {
    const format = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' }, strict: true } };
    const body = FORMATS['openai-chat'].request(
      chatReq({ tools: [tool], tool_choice: 'required', parallel_tool_calls: false, response_format: format }),
      model('openai-chat'),
    );
    expect(body).toMatchObject({ tools: [tool], tool_choice: 'required', parallel_tool_calls: false, response_format: format, model: 'served' });
    expect((body as { messages: unknown[] }).messages).toEqual([
      messages[0],
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', content: 'sunny', tool_call_id: 'call_1' },
    ]);
  });

  it('reads tool calls from a whole answer and finish_reason tool_calls', () => {
    const completion = FORMATS['openai-chat'].response({
      choices: [{ message: { role: 'assistant', content: null, tool_calls: [call] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 5, completion_tokens: 7 },
    });
    expect(completion).toEqual({ output: '', toolCalls: [call], finishReason: 'tool_calls', promptTokens: 5, completionTokens: 7 });
  });

  it('reads streamed tool-call deltas as tool_calls pieces', () => {
    const opening = { index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '' } };
    expect(FORMATS['openai-chat'].event({ choices: [{ delta: { tool_calls: [opening] }, finish_reason: null }] })).toEqual([
      { kind: 'tool_calls', deltas: [opening] },
    ]);
    expect(FORMATS['openai-chat'].event({ choices: [{ delta: { tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] } }] })).toEqual([
      { kind: 'tool_calls', deltas: [{ index: 0, function: { arguments: '{"ci' } }] },
    ]);
    expect(FORMATS['openai-chat'].event({ choices: [{ delta: {}, finish_reason: 'tool_calls' }] })).toEqual([{ kind: 'final', finishReason: 'tool_calls' }]);
  });
});

describe('text-only formats', () => {
  it.each(['tgi', 'json', 'openai-completions'] as const)('%s refuses tools and tool turns with a 400', (format) => {
    for (const over of [{ tools: [tool] }, {}]) {
      expect(() => FORMATS[format].request(chatReq(over), model(format))).toThrow(BadRequestError);
    }
  });

  it.each(['tgi', 'json'] as const)('%s refuses logprobs and n', (format) => {
    const prompt = (over: Record<string, unknown>) => BackendInferRequestSchema.parse({ request_id: 'r', tenant_id: 't', model: 'm', prompt: 'Hi', ...over });
    expect(() => FORMATS[format].request(prompt({ logprobs: true }), model(format))).toThrow(/logprobs/);
    expect(() => FORMATS[format].request(prompt({ n: 2 }), model(format))).toThrow(/n: /);
  });

  it('legacy completions take logprobs as an integer and n, and read legacy logprobs as entries', () => {
    const prompt = BackendInferRequestSchema.parse({ request_id: 'r', tenant_id: 't', model: 'm', prompt: 'Hi', logprobs: true, top_logprobs: 2, n: 2 });
    expect(FORMATS['openai-completions'].request(prompt, model('openai-completions'))).toMatchObject({ logprobs: 2, n: 2 });
    const whole = FORMATS['openai-completions'].response({
      choices: [
        { text: 'a', finish_reason: 'length', logprobs: { tokens: ['a'], token_logprobs: [-1], top_logprobs: [{ a: -1, b: -2 }] } },
        { text: 'b', finish_reason: 'stop' },
      ],
    });
    expect(whole?.logprobs).toEqual([
      {
        token: 'a',
        logprob: -1,
        bytes: [97],
        top_logprobs: [
          { token: 'a', logprob: -1, bytes: [97] },
          { token: 'b', logprob: -2, bytes: [98] },
        ],
      },
    ]);
    expect(whole?.moreChoices).toEqual([{ output: 'b', finishReason: 'stop' }]);
  });

  it.each(['json', 'openai-completions'] as const)('%s refuses a response format', (format) => {
    const plain = chatReq({ messages: [messages[0]], response_format: { type: 'json_object' } });
    expect(() => FORMATS[format].request(plain, model(format))).toThrow(/response_format/);
  });

  it('TGI generate takes a response format as its JSON grammar', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer' } } };
    const body = (over: Record<string, unknown>) =>
      (FORMATS.tgi.request(chatReq({ messages: [messages[0]], ...over }), model('tgi')) as { parameters: Record<string, unknown> }).parameters.grammar;
    expect(body({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } })).toEqual({ type: 'json', value: schema });
    expect(body({ response_format: { type: 'json_object' } })).toEqual({ type: 'json', value: { type: 'object' } });
    expect(body({})).toBeUndefined();
  });
});

describe('OpenAI chat logprobs', () => {
  const entry = { token: 'Hi', logprob: -0.5, bytes: [72, 105], top_logprobs: [{ token: 'Hi', logprob: -0.5, bytes: [72, 105] }] };

  it('asks for logprobs and top_logprobs, and reads them from a whole answer and from chunks', () => {
    expect(FORMATS['openai-chat'].request(chatReq({ logprobs: true, top_logprobs: 1 }), model('openai-chat'))).toMatchObject({
      logprobs: true,
      top_logprobs: 1,
    });
    const whole = FORMATS['openai-chat'].response({ choices: [{ message: { content: 'Hi' }, finish_reason: 'stop', logprobs: { content: [entry] } }] });
    expect(whole?.logprobs).toEqual([entry]);
    expect(FORMATS['openai-chat'].event({ choices: [{ delta: { content: 'Hi' }, logprobs: { content: [entry] } }] })).toEqual([
      { kind: 'text', text: 'Hi', logprobs: [entry] },
    ]);
  });

  it('keeps the answer when a container sends malformed logprobs', () => {
    const whole = FORMATS['openai-chat'].response({ choices: [{ message: { content: 'Hi' }, logprobs: { content: [{ token: 1 }] } }] });
    expect(whole?.output).toBe('Hi');
    expect(whole).not.toHaveProperty('logprobs');
  });
});

describe('TGI Messages API', () => {
  it('sends the OpenAI chat body with tools, and a response format as TGI grammar', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    const body = FORMATS['tgi-messages'].request(
      chatReq({ tools: [tool], response_format: { type: 'json_schema', json_schema: { name: 'x', schema, strict: true } } }),
      model('tgi-messages'),
    );
    expect(body).toMatchObject({ tools: [tool], response_format: { type: 'json', value: schema }, model: 'served' });
    expect(FORMATS['tgi-messages'].response({ choices: [{ message: { content: null, tool_calls: [call] }, finish_reason: 'tool_calls' }] })).toMatchObject({
      toolCalls: [call],
      finishReason: 'tool_calls',
    });
  });
});
