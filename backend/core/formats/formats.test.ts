import { describe, expect, it } from 'vitest';
import { BackendInferRequestSchema, type BackendInferRequestInput } from '../../../shared/contracts/backend';
import { renderChatPrompt } from '../../../tools/model-server/generator';
import { renderChat } from '../chat-template';
import { DEFAULT_MAX_TOKENS, FORMATS, type ContainerModel } from './index';

const req = (over: Partial<BackendInferRequestInput> & Record<string, unknown> = {}) =>
  BackendInferRequestSchema.parse({ request_id: 'r1', tenant_id: 't1', model: 'm', prompt: 'Hello there', ...over });
const chatReq = (over: Record<string, unknown> = {}) => BackendInferRequestSchema.parse({ request_id: 'r1', tenant_id: 't1', model: 'm', messages, ...over });
const messages = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'Hi' },
] as const;
const model = (over: Partial<ContainerModel> = {}): ContainerModel => ({ format: 'tgi', chatTemplate: 'default', ...over });
const allParams = { max_tokens: 10, temperature: 0.7, top_p: 0.9, stop: 'END', seed: 7 };

describe('request bodies', () => {
  it('maps every param to TGI: max_new_tokens, sampling, stop list, seed, details on', () => {
    expect(FORMATS.tgi.request(req({ params: allParams, stream: true }), model())).toEqual({
      inputs: 'Hello there',
      parameters: {
        max_new_tokens: 10,
        temperature: 0.7,
        do_sample: true,
        top_p: 0.9,
        stop: ['END'],
        seed: 7,
        details: true,
        decoder_input_details: false,
        return_full_text: false,
      },
      stream: true,
    });
  });

  it('uses greedy TGI decoding for temperature 0 or none and drops top_p 1, which TGI refuses', () => {
    const body = FORMATS.tgi.request(req({ params: { temperature: 0, top_p: 1 } }), model()) as { parameters: Record<string, unknown> };
    expect(body.parameters).toMatchObject({ do_sample: false, max_new_tokens: DEFAULT_MAX_TOKENS });
    expect(body.parameters).not.toHaveProperty('temperature');
    expect(body.parameters).not.toHaveProperty('top_p');
    expect(body).not.toHaveProperty('stream');
  });

  it('maps params to OpenAI chat with the model id, and asks for usage when streaming', () => {
    expect(FORMATS['openai-chat'].request(req({ params: allParams, stream: true }), model({ format: 'openai-chat', modelId: 'meta/llama' }))).toEqual({
      messages: [{ role: 'user', content: 'Hello there' }],
      model: 'meta/llama',
      max_tokens: 10,
      temperature: 0.7,
      top_p: 0.9,
      stop: ['END'],
      seed: 7,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('passes chat messages through to OpenAI chat containers unchanged', () => {
    expect(FORMATS['openai-chat'].request(chatReq(), model({ format: 'openai-chat' }))).toEqual({ messages, max_tokens: DEFAULT_MAX_TOKENS });
  });

  it('renders chat messages with the model chat template for text-only formats', () => {
    const m = model({ chatTemplate: 'chatml' });
    const rendered = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n';
    expect(FORMATS.tgi.request(chatReq(), m)).toMatchObject({ inputs: rendered });
    expect(FORMATS.json.request(chatReq(), m)).toMatchObject({ prompt: rendered });
    expect(FORMATS['openai-completions'].request(chatReq(), m)).toMatchObject({ prompt: rendered });
  });

  it('maps params to plain JSON under `parameters`', () => {
    expect(FORMATS.json.request(req({ params: { stop: ['a', 'b'], seed: 3 }, stream: true }), model({ format: 'json' }))).toEqual({
      prompt: 'Hello there',
      parameters: { stop: ['a', 'b'], seed: 3, max_tokens: DEFAULT_MAX_TOKENS },
      stream: true,
    });
  });
});

describe('chat templates', () => {
  it('renders the default template exactly as the reference model server renders chat', () => {
    expect(renderChat([...messages])).toBe(renderChatPrompt([...messages]));
  });

  it('renders Llama 3 headers and leaves the assistant turn open', () => {
    expect(renderChat([{ role: 'user', content: 'Hi' }], 'llama3')).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });
});

describe('whole answers', () => {
  it('reads TGI arrays and objects with details', () => {
    expect(FORMATS.tgi.response([{ generated_text: 'hi', details: { generated_tokens: 3, finish_reason: 'eos_token' } }])).toEqual({
      output: 'hi',
      completionTokens: 3,
      finishReason: 'stop',
    });
    expect(FORMATS.tgi.response({ generated_text: 'x' })).toEqual({ output: 'x', completionTokens: undefined, finishReason: undefined });
  });

  it('takes usage and finish reason from OpenAI answers', () => {
    const usage = { prompt_tokens: 4, completion_tokens: 9, total_tokens: 13 };
    expect(FORMATS['openai-chat'].response({ choices: [{ message: { content: 'yo' }, finish_reason: 'length' }], usage })).toEqual({
      output: 'yo',
      finishReason: 'length',
      promptTokens: 4,
      completionTokens: 9,
    });
    expect(FORMATS['openai-completions'].response({ choices: [{ text: 'x', finish_reason: 'stop' }] })).toEqual({ output: 'x', finishReason: 'stop' });
  });

  it('reads plain JSON with or without usage', () => {
    expect(FORMATS.json.response({ output: 'o', usage: { prompt_tokens: 1, completion_tokens: 2 }, finish_reason: 'stop' })).toEqual({
      output: 'o',
      finishReason: 'stop',
      promptTokens: 1,
      completionTokens: 2,
    });
  });

  it.each([
    ['tgi', { choices: [] }],
    ['openai-chat', [{ generated_text: 'x' }]],
    ['openai-completions', { choices: [] }],
    ['json', null],
  ] as const)('refuses a %s answer of the wrong shape', (format, body) => {
    expect(FORMATS[format].response(body)).toBeUndefined();
  });
});

describe('stream events', () => {
  it('skips TGI special tokens and reads the final details', () => {
    expect(
      FORMATS.tgi.event({ token: { text: '</s>', special: true }, generated_text: 'ab', details: { finish_reason: 'eos_token', generated_tokens: 2 } }),
    ).toEqual([{ kind: 'final', completionTokens: 2, finishReason: 'stop' }]);
  });

  it('reads OpenAI deltas, the finish chunk and the usage chunk', () => {
    const chat = FORMATS['openai-chat'];
    expect(chat.event({ choices: [{ delta: { role: 'assistant', content: '' } }] })).toEqual([]);
    expect(chat.event({ choices: [{ delta: { content: 'x' }, finish_reason: null }], usage: null })).toEqual([{ kind: 'text', text: 'x' }]);
    expect(chat.event({ choices: [{ delta: {}, finish_reason: 'stop' }] })).toEqual([{ kind: 'final', finishReason: 'stop' }]);
    expect(chat.event({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2 } })).toEqual([{ kind: 'final', promptTokens: 1, completionTokens: 2 }]);
    expect(FORMATS['openai-completions'].event({ choices: [{ text: 'y', finish_reason: null }] })).toEqual([{ kind: 'text', text: 'y' }]);
  });

  it('reads plain JSON lines and flags anything else as an error', () => {
    expect(FORMATS.json.event({ text: 'a' })).toEqual([{ kind: 'text', text: 'a' }]);
    expect(FORMATS.json.event({ done: true, finish_reason: 'length' })).toEqual([
      { kind: 'final', finishReason: 'length', promptTokens: undefined, completionTokens: undefined },
    ]);
    expect(FORMATS.json.event({ unexpected: 1 })).toEqual([{ kind: 'error', message: 'unexpected JSON stream line' }]);
  });
});
