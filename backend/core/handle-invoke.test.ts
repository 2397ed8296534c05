import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { handleInvoke } from './handle-invoke';
import { UpstreamError } from './errors';

function event(over: { path?: string; method?: string; body?: string; base64?: boolean } = {}): LambdaFunctionURLEvent {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: over.path ?? '/invoke',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'local',
      domainPrefix: 'local',
      http: { method: over.method ?? 'POST', path: over.path ?? '/invoke', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'req',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    body: over.body,
    isBase64Encoded: over.base64 ?? false,
  } as LambdaFunctionURLEvent;
}

const valid = JSON.stringify({ request_id: 'r', tenant_id: 't', model: 'm', prompt: 'p' });
const ok = async () => ({ output: 'o', usage: { prompt_tokens: 1, completion_tokens: 1 }, model_latency_ms: 1 });

describe('handleInvoke', () => {
  it('answers a valid request with the adapter result', async () => {
    const res = await handleInvoke(event({ body: valid }), { invoke: ok });
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ output: 'o', usage: { prompt_tokens: 1, completion_tokens: 1 }, model_latency_ms: 1 });
  });

  it('decodes base64 bodies', async () => {
    const res = await handleInvoke(event({ body: Buffer.from(valid).toString('base64'), base64: true }), { invoke: ok });
    expect(res.statusCode).toBe(200);
  });

  it.each([
    ['unknown path', { path: '/nope', body: valid }, 404, 'NOT_FOUND'],
    ['wrong method', { method: 'GET', body: valid }, 405, 'INVALID_INPUT'],
    ['malformed JSON', { body: '{"request_id":' }, 400, 'INVALID_INPUT'],
    ['schema violation', { body: JSON.stringify({ request_id: 'r' }) }, 400, 'INVALID_INPUT'],
    ['unknown field', { body: JSON.stringify({ ...JSON.parse(valid), extra: 1 }) }, 400, 'INVALID_INPUT'],
  ])('refuses %s with the error shape', async (_name, over, status, code) => {
    const res = await handleInvoke(event(over), { invoke: ok });
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body).error.code).toBe(code);
  });

  it('passes an adapter error through with Retry-After and reason', async () => {
    const res = await handleInvoke(event({ body: valid }), {
      invoke: () => Promise.reject(new UpstreamError(503, 'warming', { retryAfterSeconds: 30, reason: 'no_capacity' })),
    });
    expect(res).toMatchObject({ statusCode: 503, headers: { 'retry-after': '30' } });
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'UPSTREAM_ERROR', message: 'warming', details: { reason: 'no_capacity' } } });
  });

  it('hides unexpected errors behind INTERNAL_ERROR and reports them', async () => {
    const seen: unknown[] = [];
    const res = await handleInvoke(event({ body: valid }), {
      invoke: () => Promise.reject(new Error('secret stack detail')),
      onError: (err) => seen.push(err),
    });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('secret');
    expect(seen).toHaveLength(1);
  });
});
