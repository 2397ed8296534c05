/** Payload format 2.0 event building, pure: headers, query, cookies, body encoding, context fields. */
import { describe, expect, it } from 'vitest';
import { buildFunctionUrlEvent, collectHeaders, formatRequestTime, isTextBody, parseQueryParameters, type EventInput } from './event';

const INPUT: EventInput = {
  method: 'POST',
  target: '/v1/a%20b?x=1&x=2&q=hello+world%21&flag',
  httpVersion: '1.1',
  headers: collectHeaders([
    'Host',
    '127.0.0.1:4000',
    'Content-Type',
    'application/json',
    'X-Multi',
    'one',
    'x-multi',
    'two',
    'Cookie',
    'a=1; b=2',
    'Connection',
    'keep-alive',
    'User-Agent',
    'edge/1.0',
  ]),
  body: Buffer.from('{"prompt":"hi"}'),
  sourceIp: '127.0.0.1',
  requestId: '5f3c2a1e-0000-4000-8000-000000000001',
  now: Date.UTC(2020, 2, 12, 19, 3, 58, 390),
  apiId: 'abcdef0123456789abcdef0123456789',
  accountId: '123456789012',
  authorizer: null,
};

describe('buildFunctionUrlEvent', () => {
  const event = buildFunctionUrlEvent(INPUT);

  it('carries the 2.0 envelope with the raw path and query', () => {
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/v1/a%20b',
      rawQueryString: 'x=1&x=2&q=hello+world%21&flag',
      isBase64Encoded: false,
    });
    expect(event.requestContext).toMatchObject({
      accountId: '123456789012',
      apiId: INPUT.apiId,
      domainName: '127.0.0.1:4000',
      domainPrefix: INPUT.apiId,
      http: { method: 'POST', path: '/v1/a%20b', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'edge/1.0' },
      requestId: INPUT.requestId,
      routeKey: '$default',
      stage: '$default',
      time: '12/Mar/2020:19:03:58 +0000',
      timeEpoch: INPUT.now,
    });
    expect(event.requestContext).not.toHaveProperty('authorizer');
    expect(event.requestContext).not.toHaveProperty('authentication');
  });

  it('lower-cases headers, joins repeated ones with commas, lists cookies, drops connection and authorization', () => {
    expect(event.headers['x-multi']).toBe('one,two');
    expect(event.headers['content-type']).toBe('application/json');
    expect(event.headers['cookie']).toBe('a=1; b=2');
    expect(event.headers).not.toHaveProperty('connection');
    expect(buildFunctionUrlEvent({ ...INPUT, headers: { ...INPUT.headers, authorization: 'AWS4-HMAC-SHA256 ...' } }).headers).not.toHaveProperty(
      'authorization',
    );
    expect(event.cookies).toEqual(['a=1', 'b=2']);
    expect(event.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(event.headers['x-amzn-trace-id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
  });

  it('decodes query parameters and joins repeated keys with commas', () => {
    expect(event.queryStringParameters).toEqual({ x: '1,2', q: 'hello world!', flag: '' });
    expect(parseQueryParameters('')).toBeUndefined();
    expect(parseQueryParameters('bad=%E0%A4%A')).toEqual({ bad: '%E0%A4%A' });
  });

  it('keeps a JSON body as text and base64-encodes binary content types', () => {
    expect(event.body).toBe('{"prompt":"hi"}');
    const binary = buildFunctionUrlEvent({
      ...INPUT,
      headers: { ...INPUT.headers, 'content-type': 'application/octet-stream' },
      body: Buffer.from([0, 1, 254, 255]),
    });
    expect(binary).toMatchObject({ body: 'AAH+/w==', isBase64Encoded: true });
    const form = buildFunctionUrlEvent({
      ...INPUT,
      headers: { ...INPUT.headers, 'content-type': 'multipart/form-data; boundary=x' },
      body: Buffer.from('--x--'),
    });
    expect(form.isBase64Encoded).toBe(true);
  });

  it('omits body, cookies and query parameters when there are none', () => {
    const bare = buildFunctionUrlEvent({ ...INPUT, target: '/', headers: { host: 'h' }, body: Buffer.alloc(0) });
    expect(bare).not.toHaveProperty('body');
    expect(bare).not.toHaveProperty('cookies');
    expect(bare).not.toHaveProperty('queryStringParameters');
    expect(bare.isBase64Encoded).toBe(false);
  });

  it('fills authorizer.iam for an IAM caller', () => {
    const iam = {
      accessKey: 'AK',
      accountId: '111122223333',
      callerId: 'AIDA1',
      cognitoIdentity: null,
      principalOrgId: null,
      userArn: 'arn:aws:iam::111122223333:user/u',
      userId: 'AIDA1',
    };
    expect(buildFunctionUrlEvent({ ...INPUT, authorizer: iam }).requestContext.authorizer).toEqual({ iam });
  });
});

describe('helpers', () => {
  it('treats only text-like, 7-bit bodies as text', () => {
    expect(isTextBody('text/plain; charset=utf-8', Buffer.from('hi'))).toBe(true);
    expect(isTextBody('application/vnd.api+json', Buffer.from('{}'))).toBe(true);
    expect(isTextBody('application/json', Buffer.from('{"a":"é"}'))).toBe(false);
    expect(isTextBody(undefined, Buffer.from('hi'))).toBe(false);
    expect(isTextBody('image/png', Buffer.from('hi'))).toBe(false);
  });

  it('formats requestContext.time like API Gateway', () => {
    expect(formatRequestTime(Date.UTC(2021, 8, 7, 22, 50, 22))).toBe('07/Sep/2021:22:50:22 +0000');
  });
});
