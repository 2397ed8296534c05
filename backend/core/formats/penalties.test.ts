/** Penalties and logit bias through the container formats: OpenAI formats pass them, TGI maps what it has and refuses the rest. */
import { describe, expect, it } from 'vitest';
import { BackendInferRequestSchema } from '../../../shared/contracts/backend';
import { BadRequestError } from '../errors';
import { FORMATS, type ContainerModel } from './index';

const req = (params: Record<string, unknown>) => BackendInferRequestSchema.parse({ request_id: 'r', tenant_id: 't', model: 'm', prompt: 'Hi', params });
const model = (format: ContainerModel['format']): ContainerModel => ({ format, chatTemplate: 'default' });

describe('penalties and logit bias', () => {
  it('pass to the OpenAI formats under their names', () => {
    const params = { presence_penalty: 0.5, frequency_penalty: -0.5, logit_bias: { '50256': -100 } };
    for (const format of ['openai-chat', 'openai-completions'] as const) expect(FORMATS[format].request(req(params), model(format))).toMatchObject(params);
  });

  it('map frequency_penalty to TGI and refuse presence_penalty and logit_bias there', () => {
    const body = FORMATS.tgi.request(req({ frequency_penalty: 0.3 }), model('tgi')) as { parameters: Record<string, unknown> };
    expect(body.parameters.frequency_penalty).toBe(0.3);
    expect(() => FORMATS.tgi.request(req({ presence_penalty: 1 }), model('tgi'))).toThrow(BadRequestError);
    expect(() => FORMATS.tgi.request(req({ logit_bias: { '1': 5 } }), model('tgi'))).toThrow(/logit_bias/);
  });

  it('rejects a logit_bias keyed by anything but token ids', () => {
    expect(
      BackendInferRequestSchema.safeParse({ request_id: 'r', tenant_id: 't', model: 'm', prompt: 'Hi', params: { logit_bias: { hello: 1 } } }).success,
    ).toBe(false);
  });
});
