/**
 * The edge's SigV4 signer against aws4fetch's (an independent implementation the local Lambda host's
 * verifier is also checked against): the same request, credentials and time give the same
 * signature, for each service the edge calls, with and without a session token, across a day change.
 * Every edge test that reaches an adapter also goes through the Lambda host's verifier.
 */
import { AwsV4Signer } from 'aws4fetch';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SigV4Signer, type SignableRequest, signerFor } from './sigv4';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

async function reference(request: SignableRequest, service: string, region: string, at: Date, sessionToken?: string): Promise<Record<string, string>> {
  const signer = new AwsV4Signer({
    ...request,
    ...credentials,
    ...(sessionToken ? { sessionToken } : {}),
    service,
    region,
    datetime: at.toISOString().replace(/[:-]|\.\d{3}/g, ''),
  });
  const signed = await signer.sign();
  return Object.fromEntries([...signed.headers].map(([k, v]) => [k.toLowerCase(), v]));
}

const invoke: SignableRequest = {
  method: 'POST',
  url: 'https://abcdefghij.lambda-url.eu-west-1.on.aws/invoke',
  headers: {
    'content-type': 'application/json',
    'x-request-id': 'req_01JABCDEF',
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  },
  body: JSON.stringify({ model: 'm', prompt: 'héllo  wörld', stream: true }),
};

afterEach(() => {
  vi.restoreAllMocks();
});

describe('SigV4Signer', () => {
  it('signs a Function URL call exactly as aws4fetch does', async () => {
    const at = new Date('2026-12-06T21:40:05.123Z');
    const ours = await new SigV4Signer(credentials, 'eu-west-1', 'lambda').sign(invoke, at);
    const theirs = await reference(invoke, 'lambda', 'eu-west-1', at);
    expect(ours['x-amz-date']).toBe('20261206T214005Z');
    expect(ours.authorization).toBe(theirs.authorization);
    expect(ours.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261206\/eu-west-1\/lambda\/aws4_request, SignedHeaders=host;traceparent;x-amz-date;x-request-id, Signature=[0-9a-f]{64}$/,
    );
    // The caller's headers pass unchanged beside the signature's.
    expect(ours).toMatchObject(invoke.headers);
  });

  it('signs the session token, a query, an odd path and other services as aws4fetch does', async () => {
    const at = new Date('2026-01-31T23:59:59.999Z');
    const cases: Array<[SignableRequest, string]> = [
      [{ ...invoke, url: "https://h.example/a//b/it's (1)*/c?z=1&a=b%20c&a=a&empty=" }, 'lambda'],
      [
        {
          method: 'POST',
          url: 'https://events.us-east-1.amazonaws.com/',
          headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' },
          body: '{"Entries":[]}',
        },
        'events',
      ],
      [
        {
          method: 'POST',
          url: 'http://127.0.0.1:8090/',
          headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
          body: 'Action=PutMetricData&Version=2010-08-01',
        },
        'monitoring',
      ],
      [{ ...invoke, headers: { ...invoke.headers, 'x-spaced': '  a   b  ' } }, 'lambda'],
    ];
    for (const [request, service] of cases) {
      const ours = await new SigV4Signer({ ...credentials, sessionToken: 'FQoGZXIvYXdzEXAMPLE' }, 'us-east-1', service).sign(request, at);
      const theirs = await reference(request, service, 'us-east-1', at, 'FQoGZXIvYXdzEXAMPLE');
      expect(ours['x-amz-security-token'], request.url).toBe('FQoGZXIvYXdzEXAMPLE');
      expect(ours.authorization, request.url).toBe(theirs.authorization);
    }
  });

  it('derives the signing key once a day, and again when the day changes', async () => {
    const morning = new Date('2026-12-06T08:00:00Z');
    const evening = new Date('2026-12-06T23:59:59Z');
    const nextDay = new Date('2026-12-07T00:00:01Z');
    const expected = await Promise.all([morning, nextDay].map(async (at) => (await reference(invoke, 'lambda', 'eu-west-1', at)).authorization));
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    const signer = new SigV4Signer(credentials, 'eu-west-1', 'lambda');
    expect((await signer.sign(invoke, morning)).authorization).toBe(expected[0]);
    // Four HMACs of the chain (one key import each) and the signing key itself.
    expect(importKey).toHaveBeenCalledTimes(5);
    await signer.sign(invoke, evening);
    await signer.sign({ ...invoke, body: '{}' }, evening);
    expect(importKey).toHaveBeenCalledTimes(5);
    expect((await signer.sign(invoke, nextDay)).authorization).toBe(expected[1]);
    expect(importKey).toHaveBeenCalledTimes(10);
  });

  it('keeps one signer per credentials, region and service, so its day key outlives a call', () => {
    const signer = signerFor(credentials, 'eu-west-1', 'events');
    expect(signerFor({ ...credentials }, 'eu-west-1', 'events')).toBe(signer);
    expect(signerFor(credentials, 'eu-west-1', 'monitoring')).not.toBe(signer);
    expect(signerFor(credentials, 'us-east-1', 'events')).not.toBe(signer);
    expect(signerFor({ ...credentials, secretAccessKey: 'rotated' }, 'eu-west-1', 'events')).not.toBe(signer);
    expect(signerFor({ ...credentials, sessionToken: 'FQoGZXIvYXdzEXAMPLE' }, 'eu-west-1', 'events')).not.toBe(signer);
  });

  it('sends the signed request with the caller fetch, body and signal unchanged', async () => {
    const seen: Array<{ url: string; init: RequestInit }> = [];
    const doFetch = (async (url: string, init: RequestInit) => {
      seen.push({ url, init });
      return new Response('ok');
    }) as unknown as typeof fetch;
    const signal = new AbortController().signal;
    const res = await new SigV4Signer(credentials, 'eu-west-1', 'lambda').fetch(invoke.url, { ...invoke, signal }, doFetch);
    expect(await res.text()).toBe('ok');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.url).toBe(invoke.url);
    expect(seen[0]!.init).toMatchObject({ method: 'POST', body: invoke.body, signal });
    expect((seen[0]!.init.headers as Record<string, string>).authorization).toMatch(/^AWS4-HMAC-SHA256 /);
  });
});
