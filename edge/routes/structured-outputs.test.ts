/**
 * Structured outputs on `/v1/chat/completions`, in workerd against the real stack: a strict
 * `json_schema` answer conforms; a model output that does not (the model server's
 * `schemaViolation` knob) is asked for once more and then refused as an UPSTREAM_ERROR naming the
 * mismatch, sync, or ended with an `error` event, streamed, and is never cached. Strict tools'
 * arguments are held to their schema the same way; non-strict ones are not.
 */
import { Validator } from '@cfworker/json-schema';
import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { SseParser } from '../../shared/sse';
import { modelConfig, modelStats } from '../testing/gateway-client';

const apiKey = inject('apiKey');
const modelServer = inject('modelServerUrl');
const model = 'llama-3.1-8b-vllm';

const admin = modelConfig;

afterEach(async () => {
  await fetch(`${modelServer}/admin/reset`, { method: 'POST' });
});

function post(body: unknown) {
  return SELF.fetch('https://gateway.test/v1/chat/completions', {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const schema = {
  type: 'object',
  properties: { title: { type: 'string' }, score: { type: 'integer', minimum: 1, maximum: 5 } },
  required: ['title', 'score'],
  additionalProperties: false,
};
const strict = { type: 'json_schema', json_schema: { name: 'review', schema, strict: true } };
const ask = () => [{ role: 'user', content: `Review this ${crypto.randomUUID()}` }];
type Failure = { error: { code: string; message: string } };

describe('strict json_schema', () => {
  it('answers JSON that validates against the schema', async () => {
    const res = await post({ model, messages: ask(), response_format: strict });
    expect(res.status).toBe(200);
    const content = ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    expect(new Validator(schema as never).validate(JSON.parse(content)).valid).toBe(true);
  });

  it('asks once more for a non-conforming answer, then refuses it with UPSTREAM_ERROR naming the mismatch', async () => {
    await admin({ schemaViolation: true });
    const before = (await modelStats()).invocations;
    const res = await post({ model, messages: ask(), response_format: strict });
    expect(res.status).toBe(502);
    const body = (await res.json()) as Failure;
    expect(body.error.code).toBe('UPSTREAM_ERROR');
    expect(body.error.message).toContain("response_format 'review'");
    expect((await modelStats()).invocations - before).toBe(2);
  });

  it('ends a non-conforming stream with an error event instead of its end, and does not cache it', async () => {
    await admin({ schemaViolation: true });
    const body = { model, messages: ask(), response_format: strict, temperature: 0, stream: true };
    const res = await post(body);
    expect(res.status).toBe(200);
    const parser = new SseParser();
    const messages = [...parser.push(await res.text()), ...parser.end()];
    const last = JSON.parse(messages.at(-1)!.data) as Failure;
    expect(last.error).toMatchObject({ code: 'UPSTREAM_ERROR', message: expect.stringContaining("response_format 'review'") });
    expect(messages.some((m) => m.data === '[DONE]')).toBe(false);
    await admin({ schemaViolation: false });
    const again = await post(body);
    expect(again.headers.get('x-cache')).toBe('MISS');
    await again.text();
  });

  it('holds json_object answers to being JSON', async () => {
    await admin({ schemaViolation: true });
    const res = await post({ model, messages: ask(), response_format: { type: 'json_object' } });
    expect(res.status).toBe(502);
    expect(((await res.json()) as Failure).error.message).toContain('not valid JSON');
  });

  it('refuses an invalid response_format schema with its path', async () => {
    const bad = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', required: 'title' }, strict: true } };
    const res = await post({ model, messages: ask(), response_format: bad });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { details: { issues: { path: string }[] } } };
    expect(body.error.details.issues[0]?.path).toBe('response_format.json_schema.schema.required');
  });
});

describe('TGI generate grammar', () => {
  const tgiModel = inject('model');

  it('answers a strict json_schema on a TGI model through its grammar, validated at the edge', async () => {
    const res = await post({ model: tgiModel, messages: ask(), response_format: strict });
    expect(res.status).toBe(200);
    const content = ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    expect(new Validator(schema as never).validate(JSON.parse(content)).valid).toBe(true);
    await admin({ schemaViolation: true });
    const bad = await post({ model: tgiModel, messages: ask(), response_format: strict, stream: true });
    expect(await bad.text()).toContain('UPSTREAM_ERROR');
  });
});

describe('strict tools', () => {
  const tool = (isStrict: boolean) => ({ type: 'function', function: { name: 'rate', parameters: schema, strict: isStrict } });

  it('refuses arguments that do not match a strict tool, and passes those of a non-strict one', async () => {
    await admin({ schemaViolation: true });
    const strictRes = await post({ model, messages: ask(), tools: [tool(true)], tool_choice: 'required' });
    expect(strictRes.status).toBe(502);
    expect(((await strictRes.json()) as Failure).error.message).toContain("tool call 'rate'");
    const loose = await post({ model, messages: ask(), tools: [tool(false)], tool_choice: 'required' });
    expect(loose.status).toBe(200);
  });
});
