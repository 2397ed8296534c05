/** The runtime shim against a recording sink: prelude hook, content type, chunk handling, markers. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  HANDLER_STREAMING,
  HttpResponseStream,
  installAwsLambdaGlobal,
  isStreamingHandler,
  PRELUDE_CONTENT_TYPE,
  ResponseStream,
  streamHighWaterMark,
  streamifyResponse,
  type ResponseSink,
} from './runtime-shim';

function recordingStream() {
  const chunks: Buffer[] = [];
  const events: string[] = [];
  const sink: ResponseSink = {
    write: (chunk, stream, cb) => {
      events.push(`write:${stream.contentType}`);
      chunks.push(chunk);
      cb();
    },
    end: (_stream, cb) => {
      events.push('end');
      cb();
    },
    abort: (error) => events.push(`abort:${error?.message ?? 'none'}`),
  };
  const stream = new ResponseStream(sink);
  const ended = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  return { stream, ended, events, bytes: () => Buffer.concat(chunks) };
}

const prelude = (meta: object) => Buffer.concat([Buffer.from(JSON.stringify(meta)), Buffer.alloc(8)]);

describe('ResponseStream + HttpResponseStream.from', () => {
  it('writes the prelude and 8 NUL bytes before the first chunk', async () => {
    const { stream, ended, bytes, events } = recordingStream();
    const meta = { statusCode: 201, headers: { 'content-type': 'text/plain' }, cookies: ['a=1'] };
    const out = HttpResponseStream.from(stream, meta);
    expect(out).toBe(stream);
    out.write('hello ');
    out.end('world');
    await ended;
    expect(bytes()).toEqual(Buffer.concat([prelude(meta), Buffer.from('hello world')]));
    expect(events[0]).toBe(`write:${PRELUDE_CONTENT_TYPE}`);
  });

  it('emits the prelude when the stream only ends, with or without a final chunk', async () => {
    const onlyEnd = recordingStream();
    HttpResponseStream.from(onlyEnd.stream, { statusCode: 204 }).end();
    await onlyEnd.ended;
    expect(onlyEnd.bytes()).toEqual(prelude({ statusCode: 204 }));

    const endWithChunk = recordingStream();
    HttpResponseStream.from(endWithChunk.stream, { statusCode: 200 }).end('last');
    await endWithChunk.ended;
    expect(endWithChunk.bytes()).toEqual(Buffer.concat([prelude({ statusCode: 200 }), Buffer.from('last')]));
  });

  it('works under pipeline()', async () => {
    const { stream, bytes } = recordingStream();
    await pipeline(Readable.from(['a', 'b', 'c']), HttpResponseStream.from(stream, { statusCode: 200 }));
    expect(bytes()).toEqual(Buffer.concat([prelude({ statusCode: 200 }), Buffer.from('abc')]));
  });

  it('JSON-serialises non-byte chunks like the runtime', async () => {
    const { stream, ended, bytes } = recordingStream();
    stream.write({ a: 1 });
    stream.end();
    await ended;
    expect(bytes().toString()).toBe('{"a":1}');
  });

  it('refuses setContentType after the first write', () => {
    const { stream } = recordingStream();
    stream.setContentType('text/plain');
    stream.write('x');
    expect(() => stream.setContentType('text/html')).toThrow(/too late/);
    expect(stream.contentType).toBe('text/plain');
  });

  it('tells the sink when it is destroyed', async () => {
    const { stream, events, ended } = recordingStream();
    const settled = ended.then(
      () => 'finished',
      (error: Error) => error.message,
    );
    stream.destroy(new Error('gone'));
    expect(events).toContain('abort:gone');
    await expect(settled).resolves.toBe('gone');
  });
});

describe('streamifyResponse and the awslambda global', () => {
  it('marks the handler the way the runtime reads it', () => {
    const fn = streamifyResponse(async () => {}, { highWaterMark: 1024 });
    expect(Reflect.get(fn, HANDLER_STREAMING)).toBe('response');
    expect(isStreamingHandler(fn)).toBe(true);
    expect(streamHighWaterMark(fn)).toBe(1024);
    expect(isStreamingHandler(async () => {})).toBe(false);
  });

  it('installs awslambda only when absent', () => {
    const previous: unknown = Reflect.get(globalThis, 'awslambda');
    Reflect.deleteProperty(globalThis, 'awslambda');
    try {
      expect(installAwsLambdaGlobal()).toBe(true);
      expect(installAwsLambdaGlobal()).toBe(false);
      expect(typeof awslambda.streamifyResponse).toBe('function');
    } finally {
      Reflect.deleteProperty(globalThis, 'awslambda');
      if (previous !== undefined) Reflect.set(globalThis, 'awslambda', previous);
    }
  });
});
