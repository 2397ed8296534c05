import { describe, expect, it } from 'vitest';
import { ThrottledError, UpstreamError, sanitiseUpstreamMessage } from './errors';

describe('sanitiseUpstreamMessage', () => {
  it('unwraps JSON error bodies (TGI, vLLM)', () => {
    expect(sanitiseUpstreamMessage('{"error":"Input validation error: `inputs` must be non-empty","error_type":"validation"}')).toBe(
      'Input validation error: `inputs` must be non-empty',
    );
    expect(sanitiseUpstreamMessage('{"error":{"message":"too long","type":"BadRequestError","code":400}}')).toBe('too long');
  });

  it('removes URLs, ARNs, account ids and addresses, and caps the length', () => {
    const raw =
      'Received client error (422) from primary with message "x". See https://us-east-1.console.aws.amazon.com/cloudwatch/home in account 123456789012, arn:aws:logs:us-east-1:123456789012:log-group:/aws/x at 10.0.0.12:8080';
    const clean = sanitiseUpstreamMessage(raw)!;
    expect(clean).not.toMatch(/https?:|arn:|123456789012|10\.0\.0\.12/);
    expect(sanitiseUpstreamMessage('x'.repeat(500))!.length).toBe(200);
    expect(sanitiseUpstreamMessage('  \n ')).toBeUndefined();
  });

  it.each([
    'connect ECONNREFUSED internal-llm-alb-1234567890.us-east-1.elb.amazonaws.com:80',
    'upstream runtime.sagemaker.eu-west-1.amazonaws.com timed out',
    'no healthy upstream at [fd00:ec2::254]:8000',
    'peer fd00:ec2:0:0:0:0:0:254 reset the connection',
    'Cannot connect to host vllm:8000 ssl:default',
    'proxy localhost:9181 refused',
    'service llm.default.svc.cluster.local unreachable',
    'redis://10.0.3.4:6379/0 is down',
    'metadata.google.internal answered 403',
  ])('removes the address from %j', (raw) => {
    const clean = sanitiseUpstreamMessage(raw) ?? '';
    expect(clean).not.toMatch(/amazonaws|fd00|ec2:|vllm:8000|localhost|9181|svc\.cluster|10\.0\.3\.4|6379|google\.internal/);
  });

  it("keeps what the client can act on in a container's message", () => {
    expect(sanitiseUpstreamMessage("This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.")).toBe(
      "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.",
    );
    expect(sanitiseUpstreamMessage('`inputs` tokens + `max_new_tokens` must be <= 4096. Given: 2 `inputs` tokens and 5000 `max_new_tokens`')).toBe(
      '`inputs` tokens + `max_new_tokens` must be <= 4096. Given: 2 `inputs` tokens and 5000 `max_new_tokens`',
    );
  });
});

describe('AdapterError.toErrorObject', () => {
  it('carries reason, retry_after and upstream_status as details', () => {
    expect(new ThrottledError('slow down', { retryAfterSeconds: 5, reason: 'throttled', upstreamStatus: 429 }).toErrorObject()).toEqual({
      code: 'RATE_LIMITED',
      message: 'slow down',
      details: { reason: 'throttled', retry_after: 5, upstream_status: 429 },
    });
    expect(new UpstreamError(502, 'x').toErrorObject()).toEqual({ code: 'UPSTREAM_ERROR', message: 'x' });
  });

  it('keeps the cause for logs', () => {
    const cause = new Error('sdk');
    const err = new UpstreamError(503, 'down', { cause });
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('UpstreamError');
  });
});
