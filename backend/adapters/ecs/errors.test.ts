import { describe, expect, it } from 'vitest';
import { HttpStatusError, mapEcsError } from './errors';
import { endpointUrl } from './transport';

describe('mapEcsError', () => {
  it.each([
    [400, null, '{"error":{"message":"bad"}}', 400, 'INVALID_INPUT', 'model_rejected_input', undefined],
    [422, null, '{"detail":"x"}', 400, 'INVALID_INPUT', 'model_rejected_input', undefined],
    [404, null, '{"error":{"message":"The model `x` does not exist."}}', 502, 'UPSTREAM_ERROR', 'model_not_found', undefined],
    [429, '9', '', 429, 'RATE_LIMITED', 'model_overloaded', 9],
    [503, null, 'no healthy upstream', 503, 'UPSTREAM_ERROR', 'unavailable', 5],
    [503, '20', '{"error":"Model is loading"}', 503, 'UPSTREAM_ERROR', 'model_not_ready', 20],
    [504, null, '', 504, 'TIMEOUT', 'timeout', undefined],
    [500, null, 'Traceback', 502, 'UPSTREAM_ERROR', 'model_error', undefined],
    [403, null, '', 502, 'UPSTREAM_ERROR', 'upstream_auth', undefined],
  ] as const)('maps HTTP %i', (status, retryAfter, body, expectedStatus, code, reason, retryAfterSeconds) => {
    const err = mapEcsError(new HttpStatusError(status, retryAfter, body), 'alb.internal');
    expect({ status: err.status, code: err.code, reason: err.reason, retryAfterSeconds: err.retryAfterSeconds }).toEqual({
      status: expectedStatus,
      code,
      reason,
      retryAfterSeconds,
    });
  });

  it('maps a refused connection to 503 unreachable, and a dropped stream to a broken stream', () => {
    const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    expect(mapEcsError(refused, 'alb')).toMatchObject({ status: 503, reason: 'unreachable', retryAfterSeconds: 1 });
    expect(mapEcsError(new TypeError('terminated'), 'alb', 'stream')).toMatchObject({ status: 502, reason: 'model_stream_error' });
  });
});

describe('endpointUrl', () => {
  it('appends the OpenAI and TGI paths to the base URL, with or without a trailing slash', () => {
    expect(endpointUrl({ baseUrl: 'http://alb/v1', format: 'openai-chat' }, true)).toBe('http://alb/v1/chat/completions');
    expect(endpointUrl({ baseUrl: 'http://alb/v1/', format: 'openai-completions' }, false)).toBe('http://alb/v1/completions');
    expect(endpointUrl({ baseUrl: 'http://tgi:8080', format: 'tgi' }, true)).toBe('http://tgi:8080/generate_stream');
    expect(endpointUrl({ baseUrl: 'http://tgi:8080', format: 'tgi' }, false)).toBe('http://tgi:8080/generate');
  });
});
