/** BUFFERED mode, pure: how a handler's result maps to the HTTP response, and how invocations settle. */
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { invokeBuffered, mapBufferedResult } from './buffered';
import { FunctionTimeoutError } from './context';

const ctx = {} as Context;
const ok = (result: unknown) => {
  const mapped = mapBufferedResult(result);
  if (!mapped.ok) throw new Error(mapped.reason);
  return { ...mapped.response, text: mapped.response.body.toString('utf8') };
};

describe('mapBufferedResult', () => {
  it('sends a plain object without statusCode as a 200 JSON body', () => {
    expect(ok({ message: 'hi' })).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json' }, text: '{"message":"hi"}' });
  });

  it('sends a string as the body itself, numbers, arrays and undefined as JSON', () => {
    expect(ok('Hello, world!').text).toBe('Hello, world!');
    expect(ok(3).text).toBe('3');
    expect(ok(['a', true]).text).toBe('["a",true]');
    expect(ok(undefined).text).toBe('null');
  });

  it('maps a structured response: status, headers, cookies, base64 body', () => {
    const res = ok({ statusCode: 201, headers: { 'Content-Type': 'text/plain', 'X-Count': 3, 'Content-Length': '999' }, cookies: ['a=1'], body: 'made' });
    expect(res).toMatchObject({ statusCode: 201, headers: { 'content-type': 'text/plain', 'x-count': '3' }, cookies: ['a=1'], text: 'made' });
    expect(res.headers).not.toHaveProperty('content-length');
    expect(ok({ statusCode: 200, body: Buffer.from([1, 2, 3]).toString('base64'), isBase64Encoded: true }).body).toEqual(Buffer.from([1, 2, 3]));
    expect(ok({ statusCode: 204 })).toMatchObject({ statusCode: 204, text: '', headers: { 'content-type': 'application/json' } });
  });

  it.each([
    ['a non-numeric statusCode', { statusCode: 'teapot' }],
    ['an out-of-range statusCode', { statusCode: 99 }],
    ['a non-string body', { statusCode: 200, body: { a: 1 } }],
    ['headers that are not an object', { statusCode: 200, headers: ['x'] }],
    ['a header value with a newline', { statusCode: 200, headers: { 'x-a': 'a\nb' } }],
    ['cookies that are not strings', { statusCode: 200, cookies: [1] }],
    ['invalid base64', { statusCode: 200, body: '***', isBase64Encoded: true }],
  ])('rejects %s', (_name, result) => {
    expect(mapBufferedResult(result).ok).toBe(false);
  });

  it('rejects results the runtime cannot serialise or that exceed 6 MB', () => {
    const loop: Record<string, unknown> = {};
    loop['self'] = loop;
    expect(mapBufferedResult(loop).ok).toBe(false);
    expect(mapBufferedResult(10n).ok).toBe(false);
    expect(mapBufferedResult('x'.repeat(6_291_556)).ok).toBe(false);
  });
});

describe('invokeBuffered', () => {
  it('settles with an async result, a sync result and a callback result', async () => {
    await expect(
      invokeBuffered(
        async () => 'a',
        {},
        () => ctx,
        1000,
      ),
    ).resolves.toEqual({ kind: 'result', value: 'a' });
    await expect(
      invokeBuffered(
        () => 'b',
        {},
        () => ctx,
        1000,
      ),
    ).resolves.toEqual({ kind: 'result', value: 'b' });
    const callback = (_e: unknown, _c: Context, cb: (error?: unknown, result?: unknown) => void) => void setImmediate(() => cb(null, 'c'));
    await expect(invokeBuffered(callback, {}, () => ctx, 1000)).resolves.toEqual({ kind: 'result', value: 'c' });
  });

  it('reports thrown errors, rejections and timeouts as errors', async () => {
    const thrown = await invokeBuffered(
      () => {
        throw new Error('sync');
      },
      {},
      () => ctx,
      1000,
    );
    expect(thrown).toMatchObject({ kind: 'error', error: { message: 'sync' } });
    const rejected = await invokeBuffered(
      async () => Promise.reject(new Error('async')),
      {},
      () => ctx,
      1000,
    );
    expect(rejected).toMatchObject({ kind: 'error', error: { message: 'async' } });
    const timedOut = await invokeBuffered(
      () => new Promise(() => {}),
      {},
      () => ctx,
      20,
    );
    expect(timedOut.kind === 'error' && timedOut.error).toBeInstanceOf(FunctionTimeoutError);
  });
});
