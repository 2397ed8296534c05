/**
 * The worker in workerd against the real local stack (Redis via the Upstash bridge, the Lambda host
 * with the SageMaker adapter, the reference model server): the foundation's request path and the
 * cross-cutting behaviour every route shares.
 */
import { SELF } from 'cloudflare:test';
import { inject } from 'vitest';
import { describe, expect, it } from 'vitest';
import { ErrorEnvelopeSchema } from '../shared/errors';
import { InferResponseSchema } from '../shared/contracts/infer';

const apiKey = inject('apiKey');
const model = inject('model');
const BASE = 'https://gateway.test';

function post(path: string, body: string, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

async function envelope(res: Response) {
  return ErrorEnvelopeSchema.parse(await res.json());
}

describe('GET /health', () => {
  it('answers without dependencies, with security headers and a request id', async () => {
    const res = await SELF.fetch(`${BASE}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get('strict-transport-security')).toMatch(/^max-age=\d+/);
    expect(res.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('echoes a sane X-Request-ID and replaces an unsafe one', async () => {
    const sane = await SELF.fetch(`${BASE}/health`, { headers: { 'x-request-id': '01HXYZABCDEF0123456789' } });
    expect(sane.headers.get('x-request-id')).toBe('01HXYZABCDEF0123456789');
    const unsafe = await SELF.fetch(`${BASE}/health`, { headers: { 'x-request-id': 'a b<script>' } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('GET /ready', () => {
  it('reports the store and the route table ready', async () => {
    const res = await SELF.fetch(`${BASE}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', checks: { store: { ok: true }, routes: { ok: true } }, models: expect.arrayContaining([model]) });
  });
});

describe('POST /v1/infer', () => {
  it('returns model output forwarded through the signed backend call', async () => {
    const res = await post('/v1/infer', JSON.stringify({ model, prompt: 'Hello from workerd', params: { max_tokens: 5 } }));
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    const parsed = InferResponseSchema.parse(body);
    expect(parsed.usage.completion_tokens).toBe(5);
    expect(parsed.output.length).toBeGreaterThan(0);
    expect(res.headers.get('x-backend')).toBe('sagemaker-local');
  });

  it.each([
    ['no key', {}, 401, 'UNAUTHORIZED'],
    ['a malformed key', { authorization: 'Bearer nope' }, 401, 'UNAUTHORIZED'],
    ['a well-formed unknown key', { authorization: `Bearer gw_test_${'A'.repeat(43)}` }, 401, 'UNAUTHORIZED'],
  ])('refuses %s with 401', async (_name, headers, status, code) => {
    const res = await SELF.fetch(`${BASE}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model, prompt: 'x' }),
    });
    expect(res.status).toBe(status);
    expect((await envelope(res)).error.code).toBe(code);
  });

  it('accepts the key in x-api-key too', async () => {
    const res = await SELF.fetch(`${BASE}/v1/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ model, prompt: 'via x-api-key', params: { max_tokens: 2 } }),
    });
    expect(res.status).toBe(200);
  });

  it.each([
    ['malformed JSON', '{"model":', {}, 400],
    ['an unknown field', JSON.stringify({ model, prompt: 'x', temperature: 1 }), {}, 400],
    ['a wrong type', JSON.stringify({ model, prompt: 42 }), {}, 400],
    ['a wrong content type', JSON.stringify({ model, prompt: 'x' }), { 'content-type': 'text/plain' }, 415],
    ['an oversized body', JSON.stringify({ model, prompt: 'x'.repeat(1_100_000) }), {}, 413],
  ])('answers %s with INVALID_INPUT', async (_name, body, headers, status) => {
    const res = await post('/v1/infer', body, headers);
    expect(res.status).toBe(status);
    const env = await envelope(res);
    expect(env.error.code).toBe('INVALID_INPUT');
    expect(env.request_id).toBe(res.headers.get('x-request-id'));
  });

  it('names the failing field path for schema violations', async () => {
    const res = await post('/v1/infer', JSON.stringify({ model, prompt: 'x', params: { max_tokens: -1 } }));
    const env = await envelope(res);
    expect(env.error.details?.issues).toEqual([expect.objectContaining({ path: 'params.max_tokens' })]);
  });

  it('answers an unrouted model with 404', async () => {
    const res = await post('/v1/infer', JSON.stringify({ model: 'gpt-unknown', prompt: 'x' }));
    expect(res.status).toBe(404);
    expect((await envelope(res)).error.code).toBe('NOT_FOUND');
  });
});

describe('unknown routes', () => {
  it('answer 404 in the envelope with security headers', async () => {
    const res = await SELF.fetch(`${BASE}/v2/nothing`);
    expect(res.status).toBe(404);
    expect((await envelope(res)).error.code).toBe('NOT_FOUND');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });
});
