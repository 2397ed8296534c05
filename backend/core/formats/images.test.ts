/**
 * Image parts through the container formats: the OpenAI chat formats (vLLM, LMI, TGI Messages)
 * carry a user turn's parts as OpenAI's content array; text-only formats refuse them; the contract
 * takes inline data: images only, so no container is handed an address to fetch.
 */
import { describe, expect, it } from 'vitest';
import { BackendInferRequestSchema } from '../../../shared/contracts/backend';
import { BadRequestError } from '../errors';
import { FORMATS, type ContainerModel } from './index';

const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } };
const parts = [{ type: 'text', text: 'What is this?' }, image];
const chatReq = (url = image.image_url.url) =>
  BackendInferRequestSchema.parse({
    request_id: 'r1',
    tenant_id: 't1',
    model: 'm',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'What is this?', parts: [parts[0], { ...image, image_url: { ...image.image_url, url } }] },
    ],
  });
const model = (format: ContainerModel['format']): ContainerModel => ({ format, chatTemplate: 'default', modelId: 'served' });

describe('image parts', () => {
  it.each(['openai-chat', 'tgi-messages'] as const)('%s sends a turn with images as OpenAI content parts', (format) => {
    const body = FORMATS[format].request(chatReq(), model(format)) as { messages: unknown[] };
    expect(body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: parts },
    ]);
  });

  it.each(['tgi', 'json', 'openai-completions'] as const)('%s refuses images', (format) => {
    expect(() => FORMATS[format].request(chatReq(), model(format))).toThrow(BadRequestError);
    expect(() => FORMATS[format].request(chatReq(), model(format))).toThrow(/image parts: not supported by container format/);
  });

  it('takes inline images only: a remote URL does not pass the contract', () => {
    expect(() => chatReq('https://example.com/cat.png')).toThrow();
    expect(() => chatReq('data:text/plain;base64,aGk=')).toThrow();
  });
});
