/**
 * The host over real HTTP, RESPONSE_STREAM mode: status, headers and cookies come from the
 * prelude; bytes reach the client while the handler is still running (asserted by ordering, not
 * timing); pipeline() works; a client disconnect fails the handler's stream; errors and timeouts
 * before or after the first byte map to a 502 or a cut connection; the host keeps serving.
 */
import './register';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientDisconnectedError } from './context';
import { chunks, gated, hangsMidStream, piped, releaseGate, throwsEarly, throwsMidStream, untilAborted, whenAborted } from './fixtures/streaming';
import { startLambdaHost, type LambdaHost } from './server';

const REGION = 'eu-west-1';
const CREDS = { accessKeyId: 'AKIALOCALSTREAM', secretAccessKey: 'stream-secret' };
const aws = new AwsClient({ ...CREDS, service: 'lambda', region: REGION, retries: 0 });
const logs: string[] = [];
let host: LambdaHost;
const url = (name: string, path = '/') => new URL(path, host.urls[name]).toString();
const decoder = new TextDecoder();

async function readChunk(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const { value, done } = await reader.read();
  return done ? '' : decoder.decode(value);
}

beforeAll(async () => {
  host = await startLambdaHost({
    region: REGION,
    credentials: [CREDS],
    log: (line) => logs.push(line),
    functions: [
      { name: 'chunks', handler: chunks },
      { name: 'gated', handler: gated, invokeMode: 'RESPONSE_STREAM' },
      { name: 'piped', handler: piped, authType: 'NONE' },
      { name: 'until-aborted', handler: untilAborted, authType: 'NONE' },
      { name: 'throws-early', handler: throwsEarly, authType: 'NONE' },
      { name: 'throws-mid-stream', handler: throwsMidStream, authType: 'NONE' },
      { name: 'hangs-mid-stream', handler: hangsMidStream, authType: 'NONE', timeoutMs: 200 },
      { name: 'module-stream', handler: { module: 'tools/lambda-host/fixtures/streaming.ts', export: 'piped' }, authType: 'NONE' },
    ],
  });
});

afterAll(async () => {
  await host?.close();
});

describe('prelude', () => {
  it('sets status, headers and cookies from HttpResponseStream.from, signed by aws4fetch', async () => {
    const res = await aws.fetch(url('chunks', '/v1/infer/stream?chunks=3&delayMs=1'), { method: 'POST', body: '{}' });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-fixture')).toBe('chunks');
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('content-length')).toBeNull();
    expect(await res.text()).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\n');
  });

  it('rejects an unsigned request before invoking the streaming handler', async () => {
    const res = await fetch(url('chunks'));
    expect(res.status).toBe(403);
  });
});

describe('incremental delivery', () => {
  it('delivers the first chunk before the handler writes the last one', async () => {
    const res = await aws.fetch(url('gated', '/?gate=g1'));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    // The handler is parked until releaseGate: receiving 'first' now proves nothing is buffered.
    expect(await readChunk(reader)).toBe('first\n');
    releaseGate('g1');
    let rest = '';
    for (let part = await readChunk(reader); part !== ''; part = await readChunk(reader)) rest += part;
    expect(rest).toBe('last\n');
  }, 10_000);

  it('streams through pipeline() with the handler-set content type', async () => {
    for (const name of ['piped', 'module-stream']) {
      const res = await fetch(url(name));
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(await res.text()).toBe('alpha beta gamma');
    }
  });
});

describe('client disconnect', () => {
  it('destroys the response stream so the handler sees an abort', async () => {
    const aborted = whenAborted('d1');
    const controller = new AbortController();
    const res = await fetch(url('until-aborted', '/?id=d1'), { signal: controller.signal });
    const reader = res.body!.getReader();
    expect(await readChunk(reader)).toBe('tick\n');
    controller.abort();
    const reason = await aborted;
    expect(reason).toBeInstanceOf(ClientDisconnectedError);
  }, 10_000);
});

describe('faults', () => {
  it('answers an error before the first byte with 502 Internal Server Error', async () => {
    const res = await fetch(url('throws-early'));
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('Internal Server Error');
    expect(logs.some((l) => l.includes('stream failed before the first byte'))).toBe(true);
  });

  it('cuts the connection on an error after the first byte, without leaking it', async () => {
    const res = await fetch(url('throws-mid-stream'));
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    expect(await readChunk(reader)).toBe('partial\n');
    await expect(reader.read()).rejects.toThrow();
    expect(logs.some((l) => l.includes('stream failed mid-way'))).toBe(true);
  });

  it('cuts the connection when a streaming handler times out', async () => {
    const res = await fetch(url('hangs-mid-stream'));
    const reader = res.body!.getReader();
    expect(await readChunk(reader)).toBe('waiting\n');
    await expect(reader.read()).rejects.toThrow();
    expect(logs.some((l) => l.includes(`${res.headers.get('x-amzn-requestid')} Task timed out after 0.20 seconds`))).toBe(true);
  });

  it('keeps serving after all of the above', async () => {
    const res = await aws.fetch(url('chunks', '/?chunks=1&delayMs=0'));
    expect(await res.text()).toBe('data: 0\n\n');
  });
});
