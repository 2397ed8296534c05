/**
 * SigV4 verifier, pure logic: the AWS test-suite vector, canonicalisation cross-checked against
 * aws4fetch, requests signed by aws4fetch and @smithy/signature-v4, and every rejection path.
 */
import { AwsV4Signer } from 'aws4fetch';
import { describe, expect, it } from 'vitest';
import { canonicalQuery, canonicalUri, parseAuthorization, sha256Hex, verifySigV4, type SigV4Request } from './sigv4';
import { amzDate, signWithAws4fetch, signWithSmithy, wireRequest } from './testing';

const NOW = Date.UTC(2024, 4, 17, 12, 0, 0);
const CREDS = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local/secret+key' };
const EXPECT = { region: 'eu-west-1', service: 'lambda', credentials: [CREDS], now: NOW };
const ORIGIN = 'http://127.0.0.1:40123';

async function signed(url: string, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array; time?: number } = {}) {
  const method = init.method ?? 'GET';
  const headers = await signWithAws4fetch({
    url,
    method,
    headers: init.headers,
    body: init.body,
    credentials: CREDS,
    region: 'eu-west-1',
    time: init.time ?? NOW,
  });
  return wireRequest(url, method, headers, init.body);
}

describe('AWS SigV4 test suite', () => {
  it('verifies the get-vanilla vector', () => {
    const request: SigV4Request = {
      method: 'GET',
      path: '/',
      query: '',
      headers: {
        host: 'example.amazonaws.com',
        'x-amz-date': '20150830T123600Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
      },
      bodySha256: sha256Hex(''),
    };
    const result = verifySigV4(request, {
      region: 'us-east-1',
      service: 'service',
      credentials: [{ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' }],
      now: Date.UTC(2015, 7, 30, 12, 36, 0),
    });
    expect(result.ok).toBe(true);
  });
});

describe('canonicalisation matches aws4fetch', () => {
  const urls = [
    `${ORIGIN}/`,
    `${ORIGIN}/v1/chat/completions`,
    `${ORIGIN}/a%20b/c%2Fd/%E2%82%AC/`,
    `${ORIGIN}/with space/ünïcödé/(parens)!*'`,
    `${ORIGIN}//double//slashes/./x/../y`,
    `${ORIGIN}/p?q=hello world&a=1&a=0&empty=&flag`,
    `${ORIGIN}/p?emoji=%F0%9F%98%80&reserved=${encodeURIComponent("a/b?c=d&e#f!'()*~")}&plus=1+1&pct=%2B`,
    `${ORIGIN}/p?z=1&y=2&Z=3&%C3%A9=4&=skipped`,
  ];
  it.each(urls)('%s', (url) => {
    const signer = new AwsV4Signer({ url, accessKeyId: 'a', secretAccessKey: 'b', service: 'lambda', region: 'eu-west-1' });
    const parsed = new URL(url);
    expect(canonicalUri(parsed.pathname)).toBe(signer.encodedPath);
    expect(canonicalQuery(parsed.search.slice(1))).toBe(signer.encodedSearch);
  });
});

describe('verifySigV4 accepts', () => {
  it('a GET signed by aws4fetch', async () => {
    expect(verifySigV4(await signed(`${ORIGIN}/v1/models`), EXPECT)).toEqual({ ok: true, credentials: CREDS });
  });

  it('a POST with a JSON body, a custom header and an awkward query', async () => {
    const query = new URLSearchParams({ q: 'hello world', emoji: '😀', reserved: "a/b?c=d&e#f!'()*" }).toString();
    const request = await signed(`${ORIGIN}/v1/infer/stream?${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-tenant-id': 'tenant-1' },
      body: JSON.stringify({ prompt: 'héllo' }),
    });
    expect(verifySigV4(request, EXPECT).ok).toBe(true);
  });

  it('a binary body and an encoded path', async () => {
    const body = new Uint8Array(256).map((_, i) => i);
    const request = await signed(`${ORIGIN}/files/a%20b/%E2%82%AC%2Fx`, { method: 'PUT', body });
    expect(verifySigV4(request, EXPECT).ok).toBe(true);
  });

  it('a request signed by @smithy/signature-v4', async () => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] });
    const { url, headers } = await signWithSmithy({
      origin: ORIGIN,
      path: '/v1/chat/completions/a%20b',
      query: { q: 'hello world/ü', multi: ['b', 'a'], star: '*' },
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      credentials: CREDS,
      region: 'eu-west-1',
      time: NOW,
    });
    expect(verifySigV4(wireRequest(url, 'POST', headers, body), EXPECT).ok).toBe(true);
  });

  it('temporary credentials with their session token', async () => {
    const temp = { ...CREDS, sessionToken: 'FwoGZXIvYXdzEJr//token' };
    const headers = await signWithAws4fetch({ url: `${ORIGIN}/`, credentials: temp, region: 'eu-west-1', time: NOW });
    expect(verifySigV4(wireRequest(`${ORIGIN}/`, 'GET', headers), { ...EXPECT, credentials: [temp] }).ok).toBe(true);
  });

  it('a date 4 minutes off the server clock', async () => {
    expect(verifySigV4(await signed(`${ORIGIN}/`, { time: NOW - 4 * 60_000 }), EXPECT).ok).toBe(true);
    expect(verifySigV4(await signed(`${ORIGIN}/`, { time: NOW + 4 * 60_000 }), EXPECT).ok).toBe(true);
  });
});

describe('verifySigV4 rejects', () => {
  const rejects = (request: SigV4Request, type: string, expectation = EXPECT) => {
    const result = verifySigV4(request, expectation);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.type).toBe(type);
    return result;
  };

  it('a request without Authorization', () => {
    rejects(wireRequest(`${ORIGIN}/`, 'GET', {}), 'AccessDeniedException');
  });

  it('a malformed Authorization header', () => {
    rejects(wireRequest(`${ORIGIN}/`, 'GET', { authorization: 'AWS4-HMAC-SHA256 Credential=x' }), 'IncompleteSignatureException');
    rejects(wireRequest(`${ORIGIN}/`, 'GET', { authorization: 'Bearer abc' }), 'IncompleteSignatureException');
  });

  it('an unknown access key', async () => {
    rejects(await signed(`${ORIGIN}/`), 'UnrecognizedClientException', { ...EXPECT, credentials: [{ accessKeyId: 'OTHER', secretAccessKey: 'x' }] });
  });

  it('a wrong secret', async () => {
    const result = rejects(await signed(`${ORIGIN}/`), 'InvalidSignatureException', { ...EXPECT, credentials: [{ ...CREDS, secretAccessKey: 'not-it' }] });
    if (!result.ok) expect(result.message).toMatch(/signature we calculated does not match/);
  });

  it('a date more than 5 minutes in the past or future', async () => {
    const stale = rejects(await signed(`${ORIGIN}/`, { time: NOW - 6 * 60_000 }), 'InvalidSignatureException');
    if (!stale.ok) expect(stale.message).toMatch(/^Signature expired/);
    const future = rejects(await signed(`${ORIGIN}/`, { time: NOW + 6 * 60_000 }), 'InvalidSignatureException');
    if (!future.ok) expect(future.message).toMatch(/^Signature not yet current/);
  });

  it('a scope for another region or service', async () => {
    rejects(await signed(`${ORIGIN}/`), 'InvalidSignatureException', { ...EXPECT, region: 'us-east-1' });
    rejects(await signed(`${ORIGIN}/`), 'InvalidSignatureException', { ...EXPECT, service: 'execute-api' });
  });

  it('a tampered body, signed header, path or query', async () => {
    const base = await signed(`${ORIGIN}/v1/infer?model=a`, { method: 'POST', headers: { 'x-tenant-id': 't1' }, body: '{"a":1}' });
    rejects({ ...base, bodySha256: sha256Hex('{"a":2}') }, 'InvalidSignatureException');
    rejects({ ...base, headers: { ...base.headers, 'x-tenant-id': 't2' } }, 'InvalidSignatureException');
    rejects({ ...base, path: '/v1/infer/stream' }, 'InvalidSignatureException');
    rejects({ ...base, query: 'model=b' }, 'InvalidSignatureException');
    rejects({ ...base, method: 'PUT' }, 'InvalidSignatureException');
  });

  it('a request missing a header it signed', async () => {
    const base = await signed(`${ORIGIN}/`, { headers: { 'x-tenant-id': 't1' } });
    const { 'x-tenant-id': _dropped, ...headers } = base.headers;
    rejects({ ...base, headers }, 'InvalidSignatureException');
  });

  it('an x-amz-content-sha256 that is not the body hash, including UNSIGNED-PAYLOAD', async () => {
    for (const declared of ['UNSIGNED-PAYLOAD', sha256Hex('other')]) {
      const request = await signed(`${ORIGIN}/`, { method: 'POST', headers: { 'x-amz-content-sha256': declared }, body: 'real' });
      rejects(request, 'InvalidSignatureException');
    }
  });

  it('a missing or wrong session token for temporary credentials', async () => {
    const temp = { ...CREDS, sessionToken: 'token-1' };
    const noToken = await signed(`${ORIGIN}/`);
    rejects(noToken, 'UnrecognizedClientException', { ...EXPECT, credentials: [temp] });
    const wrong = await signWithAws4fetch({ url: `${ORIGIN}/`, credentials: { ...CREDS, sessionToken: 'token-2' }, region: 'eu-west-1', time: NOW });
    rejects(wireRequest(`${ORIGIN}/`, 'GET', wrong), 'UnrecognizedClientException', { ...EXPECT, credentials: [temp] });
  });

  it('a signature that does not cover host, or whose scope date differs from x-amz-date', async () => {
    const base = await signed(`${ORIGIN}/`);
    const auth = base.headers['authorization']!;
    rejects({ ...base, headers: { ...base.headers, authorization: auth.replace('SignedHeaders=host;', 'SignedHeaders=') } }, 'InvalidSignatureException');
    const justAfterMidnight = Date.UTC(2024, 4, 18, 0, 1, 0);
    const otherDay = { ...base.headers, 'x-amz-date': amzDate(justAfterMidnight) };
    const result = rejects({ ...base, headers: otherDay }, 'InvalidSignatureException', { ...EXPECT, now: justAfterMidnight });
    if (!result.ok) expect(result.message).toMatch(/^Date in Credential scope does not match/);
  });

  it('parses Authorization fields', () => {
    expect(
      parseAuthorization(`AWS4-HMAC-SHA256 Credential=AK/20240517/eu-west-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'a'.repeat(64)}`),
    ).toEqual({
      accessKeyId: 'AK',
      date: '20240517',
      region: 'eu-west-1',
      service: 'lambda',
      terminator: 'aws4_request',
      signedHeaders: ['host', 'x-amz-date'],
      signature: 'a'.repeat(64),
    });
  });
});
