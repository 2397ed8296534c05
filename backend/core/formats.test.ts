import { describe, expect, it } from 'vitest';
import { BackendInferRequestSchema } from '../../shared/contracts/backend';
import { estimateTokens } from '../../shared/tokens';
import { fromContainerResponse, toContainerRequest, DEFAULT_MAX_TOKENS } from './formats';
import { UpstreamError } from './errors';

const req = (over: Record<string, unknown> = {}) =>
  BackendInferRequestSchema.parse({ request_id: 'r1', tenant_id: 't1', model: 'm', prompt: 'Hello there', ...over });

describe('toContainerRequest', () => {
  it('maps params to TGI, using greedy decoding for temperature 0 and dropping top_p 1', () => {
    const body = toContainerRequest('tgi', req({ params: { max_tokens: 10, temperature: 0, top_p: 1, stop: 'END', seed: 7 } }));
    expect(body).toEqual({
      inputs: 'Hello there',
      parameters: { max_new_tokens: 10, do_sample: false, stop: ['END'], seed: 7, details: true, decoder_input_details: false },
    });
  });

  it('samples in TGI when temperature is positive', () => {
    const body = toContainerRequest('tgi', req({ params: { temperature: 0.7, top_p: 0.9 } })) as { parameters: Record<string, unknown> };
    expect(body.parameters).toMatchObject({ temperature: 0.7, do_sample: true, top_p: 0.9, max_new_tokens: DEFAULT_MAX_TOKENS });
  });

  it('builds OpenAI chat and completions bodies with the model id and stream usage', () => {
    expect(toContainerRequest('openai-chat', req({ stream: true, params: { max_tokens: 5 } }), 'meta/llama')).toEqual({
      messages: [{ role: 'user', content: 'Hello there' }],
      model: 'meta/llama',
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(toContainerRequest('openai-completions', req({ params: { stop: ['a', 'b'] } }))).toEqual({
      prompt: 'Hello there',
      max_tokens: DEFAULT_MAX_TOKENS,
      stop: ['a', 'b'],
    });
  });
});

describe('fromContainerResponse', () => {
  it('reads TGI arrays and objects, counting generated tokens from details', () => {
    expect(fromContainerResponse('tgi', [{ generated_text: 'hi', details: { generated_tokens: 3 } }], req())).toEqual({
      output: 'hi',
      usage: { prompt_tokens: estimateTokens('Hello there'), completion_tokens: 3 },
    });
    expect(fromContainerResponse('tgi', { generated_text: 'abcdefgh' }, req()).usage.completion_tokens).toBe(2);
  });

  it('takes usage from OpenAI-style answers', () => {
    const usage = { prompt_tokens: 4, completion_tokens: 9, total_tokens: 13 };
    expect(fromContainerResponse('openai-chat', { choices: [{ message: { content: 'yo' } }], usage }, req())).toEqual({
      output: 'yo',
      usage: { prompt_tokens: 4, completion_tokens: 9 },
    });
    expect(fromContainerResponse('openai-completions', { choices: [{ text: 'x' }], usage }, req()).output).toBe('x');
  });

  it('refuses an answer of the wrong shape with an UpstreamError, not a crash', () => {
    expect(() => fromContainerResponse('tgi', { choices: [] }, req())).toThrow(UpstreamError);
    expect(() => fromContainerResponse('openai-chat', [{ generated_text: 'x' }], req())).toThrow(/unexpected shape/);
    expect(() => fromContainerResponse('json', null, req())).toThrow(UpstreamError);
  });
});
