/**
 * The host over real HTTP, BUFFERED mode: requests signed by aws4fetch (as the edge signs) and
 * by @smithy/signature-v4 are accepted; unsigned, tampered, stale and mis-scoped ones get the
 * Function URL's 403; the event is payload format 2.0; results, errors, timeouts and oversized
 * bodies map to what a Function URL answers; and the host survives all of it.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRET_DETAIL } from './fixtures/faults';
import { FORBIDDEN_MESSAGE } from './responses';
import { startLambdaHost, type LambdaHost } from './server';
import { amzDate, signWithSmithy } from './testing';

const REGION = 'eu-west-1';
const CREDS = { accessKeyId: 'AKIALOCALEDGE', secretAccessKey: 'edge/secret+key' };
const ECHO = 'tools/lambda-host/fixtures/echo.ts';
const FAULTS = 'tools/lambda-host/fixtures/faults.ts';

const logs: string[] = [];
let host: LambdaHost;
const aws = new AwsClient({ ...CREDS, service: 'lambda', region: REGION, retries: 0 });
const url = (name: string, path = '') => new URL(path, host.urls[name]).toString();

interface EchoBody {
  event: {
    rawPath: string;
    rawQueryString: string;
    headers: Record<string, string>;
    queryStringParameters?: Record<string, string>;
    cookies?: string[];
    body?: string;
    isBase64Encoded: boolean;
    requestContext: { requestId: string; accountId: string; http: { method: string; path: string }; authorizer?: { iam: Record<string, unknown> } };
  };
  context: { awsRequestId: string; functionName: string; invokedFunctionArn: string; remainingMs: number };
  env: string | null;
}

/** A plain node:http request, for what fetch cannot send (repeated headers, absolute-form targets). */
function rawRequest(target: string, path: string, headers: Record<string, string | string[]>): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(target);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  host = await startLambdaHost({
    region: REGION,
    credentials: [CREDS],
    log: (line) => logs.push(line),
    functions: [
      { name: 'echo', handler: { module: ECHO }, env: { ECHO_FIXTURE_FLAVOUR: 'vanilla' } },
      { name: 'public-echo', handler: { module: ECHO }, authType: 'NONE' },
      { name: 'structured', handler: { module: ECHO, export: 'structured' } },
      { name: 'plain', handler: { module: ECHO, export: 'plainString' }, authType: 'NONE' },
      { name: 'garbage', handler: { module: ECHO, export: 'garbage' }, authType: 'NONE' },
      { name: 'unserialisable', handler: { module: ECHO, export: 'unserialisable' }, authType: 'NONE' },
      { name: 'callback', handler: { module: ECHO, export: 'callbackStyle' }, authType: 'NONE' },
      { name: 'throws', handler: { module: FAULTS, export: 'throws' } },
      { name: 'hangs', handler: { module: FAULTS, export: 'hangs' }, authType: 'NONE', timeoutMs: 150 },
    ],
  });
});

afterAll(async () => {
  await host?.close();
});

describe('AWS_IAM: accepted requests', () => {
  it('serves a GET signed by aws4fetch with a payload format 2.0 event', async () => {
    const res = await aws.fetch(url('echo', '/v1/models'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const { event, context, env } = (await res.json()) as EchoBody;
    expect(event).toMatchObject({ rawPath: '/v1/models', rawQueryString: '', isBase64Encoded: false });
    expect(event).not.toHaveProperty('body');
    expect(event.requestContext).toMatchObject({ accountId: '123456789012', http: { method: 'GET', path: '/v1/models' } });
    expect(event.requestContext.authorizer?.iam).toMatchObject({ accessKey: CREDS.accessKeyId, accountId: '123456789012', cognitoIdentity: null });
    expect(event.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(event.headers).not.toHaveProperty('authorization');
    expect(res.headers.get('x-amzn-requestid')).toBe(event.requestContext.requestId);
    expect(context).toMatchObject({
      awsRequestId: event.requestContext.requestId,
      functionName: 'echo',
      invokedFunctionArn: `arn:aws:lambda:${REGION}:123456789012:function:echo`,
    });
    expect(context.remainingMs).toBeGreaterThan(0);
    expect(env).toBe('vanilla');
  });

  it('serves a POST with a JSON body and a query with spaces, unicode and reserved characters', async () => {
    const search = new URLSearchParams([
      ['q', 'hello world'],
      ['emoji', '😀 ü'],
      ['reserved', "a/b?c=d&e#f!'()*"],
      ['q', 'again'],
    ]);
    const res = await aws.fetch(url('echo', `/v1/infer?${search}`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"prompt":"hi"}',
    });
    expect(res.status).toBe(200);
    const { event } = (await res.json()) as EchoBody;
    expect(event.body).toBe('{"prompt":"hi"}');
    expect(event.rawQueryString).toBe(search.toString());
    expect(event.queryStringParameters).toEqual({ q: 'hello world,again', emoji: '😀 ü', reserved: "a/b?c=d&e#f!'()*" });
  });

  it('serves an encoded path and a binary body, base64-encoded in the event', async () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const res = await aws.fetch(url('echo', '/files/a%20b/%E2%82%AC%2Fx'), {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status).toBe(200);
    const { event } = (await res.json()) as EchoBody;
    expect(event.rawPath).toBe('/files/a%20b/%E2%82%AC%2Fx');
    expect(event.isBase64Encoded).toBe(true);
    expect(new Uint8Array(Buffer.from(event.body ?? '', 'base64'))).toEqual(bytes);
  });

  it('serves a request signed by @smithy/signature-v4', async () => {
    const body = JSON.stringify({ model: 'm' });
    const signed = await signWithSmithy({
      origin: host.urls['echo']!,
      path: '/v1/chat/completions/a%20b',
      query: { q: 'hello world/ü', multi: ['b', 'a'] },
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      credentials: CREDS,
      region: REGION,
    });
    const res = await fetch(signed.url, { method: 'POST', headers: signed.headers, body });
    expect(res.status).toBe(200);
    const { event } = (await res.json()) as EchoBody;
    expect(event.queryStringParameters).toEqual({ q: 'hello world/ü', multi: 'b,a' });
  });
});

describe('AWS_IAM: rejected requests', () => {
  const expect403 = async (res: Response, type: string) => {
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe(type);
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    return (await res.json()) as Record<string, string>;
  };

  it('answers an unsigned request with the Function URL 403', async () => {
    expect(await expect403(await fetch(url('echo', '/')), 'AccessDeniedException')).toEqual({ Message: FORBIDDEN_MESSAGE });
  });

  it('rejects a tampered body, signed header, path or query', async () => {
    const signed = await aws.sign(url('echo', '/v1/infer?model=a'), { method: 'POST', headers: { 'x-tenant-id': 't1' }, body: '{"a":1}' });
    const headers = Object.fromEntries(signed.headers.entries());
    const body = await expect403(await fetch(signed.url, { method: 'POST', headers, body: '{"a":2}' }), 'InvalidSignatureException');
    expect(body['message']).toMatch(/signature we calculated does not match/);
    await expect403(await fetch(signed.url, { method: 'POST', headers: { ...headers, 'x-tenant-id': 't2' }, body: '{"a":1}' }), 'InvalidSignatureException');
    await expect403(await fetch(signed.url.replace('/v1/infer', '/v1/admin'), { method: 'POST', headers, body: '{"a":1}' }), 'InvalidSignatureException');
    await expect403(await fetch(signed.url.replace('model=a', 'model=b'), { method: 'POST', headers, body: '{"a":1}' }), 'InvalidSignatureException');
  });

  it('rejects a wrong secret, an unknown key, a stale date, and a wrong region or service', async () => {
    const target = url('echo', '/');
    await expect403(
      await new AwsClient({ ...CREDS, secretAccessKey: 'wrong', service: 'lambda', region: REGION, retries: 0 }).fetch(target),
      'InvalidSignatureException',
    );
    const unknown = await expect403(
      await new AwsClient({ accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'x', service: 'lambda', region: REGION, retries: 0 }).fetch(target),
      'UnrecognizedClientException',
    );
    expect(unknown['message']).toBe('The security token included in the request is invalid.');
    const stale = await expect403(await aws.fetch(target, { aws: { datetime: amzDate(Date.now() - 10 * 60_000) } }), 'InvalidSignatureException');
    expect(stale['message']).toMatch(/^Signature expired/);
    await expect403(await new AwsClient({ ...CREDS, service: 'lambda', region: 'us-east-1', retries: 0 }).fetch(target), 'InvalidSignatureException');
    await expect403(await new AwsClient({ ...CREDS, service: 'execute-api', region: REGION, retries: 0 }).fetch(target), 'InvalidSignatureException');
  });

  it('rejects a malformed Authorization header without invoking the function', async () => {
    const res = await fetch(url('echo', '/'), { headers: { authorization: 'AWS4-HMAC-SHA256 garbage', 'x-amz-date': amzDate(Date.now()) } });
    await expect403(res, 'IncompleteSignatureException');
  });
});

describe('event shape (auth type NONE)', () => {
  it('joins repeated headers with commas and lists cookies in the cookies array', async () => {
    const res = await rawRequest(host.urls['public-echo']!, '/p', { 'x-multi': ['one', 'two'], cookie: 'a=1; b=2' });
    const { event } = JSON.parse(res.body) as EchoBody;
    expect(event.headers['x-multi']).toBe('one,two');
    expect(event.cookies).toEqual(['a=1', 'b=2']);
    expect(event.headers['cookie']).toBe('a=1; b=2');
    expect(event.requestContext).not.toHaveProperty('authorizer');
    expect(event.requestContext.accountId).toBe('anonymous');
  });
});

describe('buffered results', () => {
  it('maps a structured response with headers, cookies and a base64 body', async () => {
    const res = await aws.fetch(url('structured', '/?status=201'));
    expect(res.status).toBe(201);
    expect(res.headers.get('x-fixture')).toBe('structured');
    expect(res.headers.get('x-number')).toBe('42');
    expect(res.headers.getSetCookie()).toEqual(['session=abc; HttpOnly', 'theme=dark']);
    expect(await res.text()).toBe('created');
    const binary = await aws.fetch(url('structured', '/?binary'));
    expect(new Uint8Array(await binary.arrayBuffer())).toEqual(new Uint8Array([0, 1, 2, 255]));
  });

  it('sends a bare string result as the body and supports callback handlers', async () => {
    const res = await fetch(url('plain'));
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('hello');
    const cb = await fetch(url('callback'));
    expect(cb.status).toBe(202);
    expect(await cb.text()).toBe('via callback');
  });
});

describe('faults', () => {
  it('answers a malformed or unserialisable result with 502 Internal Server Error', async () => {
    for (const name of ['garbage', 'unserialisable']) {
      const res = await fetch(url(name));
      expect(res.status).toBe(502);
      expect(await res.text()).toBe('Internal Server Error');
    }
  });

  it('answers a thrown error with 502 and logs the stack, never sending it', async () => {
    const res = await aws.fetch(url('throws'));
    expect(res.status).toBe(502);
    const requestId = res.headers.get('x-amzn-requestid');
    expect(await res.text()).toBe('Internal Server Error');
    const line = logs.find((l) => l.includes(`${requestId} ERROR Invoke Error`));
    expect(line).toContain(SECRET_DETAIL);
    expect(line).toContain('faults.ts');
  });

  it('answers a timeout with 502 and logs it', async () => {
    const res = await fetch(url('hangs'));
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('Internal Server Error');
    expect(logs.some((l) => l.includes(`${res.headers.get('x-amzn-requestid')} Task timed out after 0.15 seconds`))).toBe(true);
  });

  it('answers a body over 6 MB, or an event over 6 MB once base64-encoded, with 413', async () => {
    const tooBig = await fetch(url('public-echo'), { method: 'POST', body: new Uint8Array(6_291_557) });
    expect(tooBig.status).toBe(413);
    expect(tooBig.headers.get('x-amzn-errortype')).toBe('RequestEntityTooLargeException');
    const inflated = await fetch(url('public-echo'), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array(5_000_000),
    });
    expect(inflated.status).toBe(413);
  });

  it('honours a smaller maxBodyBytes', async () => {
    const small = await startLambdaHost({
      region: REGION,
      credentials: [],
      maxBodyBytes: 1024,
      log: () => {},
      functions: [{ name: 'e', handler: { module: ECHO }, authType: 'NONE' }],
    });
    try {
      expect((await fetch(small.urls['e']!, { method: 'POST', body: 'x'.repeat(1025) })).status).toBe(413);
      expect((await fetch(small.urls['e']!, { method: 'POST', body: 'x'.repeat(1024) })).status).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('survives garbage on the socket and odd request targets', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(host.urls['public-echo']!).port), '127.0.0.1');
      let data = '';
      socket.on('data', (c: Buffer) => (data += c.toString()));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
      socket.write('\x00\x01 NOT HTTP\r\n\r\n');
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await rawRequest(host.urls['public-echo']!, 'http://elsewhere.example/x', {})).status).toBe(400);
    expect((await aws.fetch(url('echo', '/still-alive'))).status).toBe(200);
  });
});

describe('start-up', () => {
  it('fails fast on a bad spec', async () => {
    const base = { region: REGION, credentials: [CREDS], log: () => {} };
    await expect(startLambdaHost({ ...base, functions: [{ name: 'x', handler: { module: ECHO, export: 'nope' } }] })).rejects.toThrow(
      /no function export 'nope'/,
    );
    await expect(startLambdaHost({ ...base, functions: [{ name: 'x', handler: { module: ECHO }, invokeMode: 'RESPONSE_STREAM' }] })).rejects.toThrow(
      /streamifyResponse/,
    );
    await expect(
      startLambdaHost({
        ...base,
        functions: [
          { name: 'x', handler: async () => 1 },
          { name: 'x', handler: async () => 2 },
        ],
      }),
    ).rejects.toThrow(/duplicate/);
    await expect(startLambdaHost({ ...base, credentials: [], functions: [{ name: 'x', handler: async () => 1 }] })).rejects.toThrow(/credentials/);
  });
});
