import { describe, expect, it } from 'vitest';
import { BackendErrorSchema, BackendInferResponseSchema } from '../../shared/contracts/backend';
import { SSE_HEADERS } from '../../shared/contracts/boundary';
import { estimateTokens } from '../../shared/tokens';
import { MemorySink } from '../testing/memory-sink';
import { bytes, invokeEvent, scriptedBackend, untilAborted, type TransportScript } from '../testing/fakes';
import { ThrottledError } from './errors';
import { handleInvoke } from './handle-invoke';

const body = (over: Record<string, unknown> = {}) => ({ request_id: 'r1', tenant_id: 't1', model: 'json-m', prompt: 'Hello', ...over });
const line = (value: unknown) => bytes(`${JSON.stringify(value)}\n`);

async function run(
  script: TransportScript,
  requestBody: unknown = body(),
  options: { timeouts?: Parameters<typeof scriptedBackend>[1]; signal?: AbortSignal; base64?: boolean; path?: string; method?: string } = {},
) {
  const backend = scriptedBackend(script, options.timeouts);
  const sink = new MemorySink();
  const outcome = await handleInvoke(invokeEvent(requestBody, options), sink, backend, { signal: options.signal ?? new AbortController().signal });
  return { sink, outcome, backend };
}

describe('requests', () => {
  it('answers a sync request (base64 body) with the parsed container answer', async () => {
    const { sink, outcome } = await run(
      { invoke: async () => ({ contentType: 'application/json', body: bytes('{"output":"hi","finish_reason":"stop"}') }) },
      body(),
      { base64: true },
    );
    expect(sink.statusCode).toBe(200);
    expect(BackendInferResponseSchema.parse(sink.json())).toMatchObject({
      output: 'hi',
      finish_reason: 'stop',
      usage: { prompt_tokens: estimateTokens('Hello'), completion_tokens: 1 },
    });
    expect(outcome).toMatchObject({
      status: 200,
      requestId: 'r1',
      tenantId: 't1',
      model: 'json-m',
      modelKnown: true,
      target: 'target-endpoint',
      stream: false,
    });
  });

  it.each([
    ['an unknown path', body(), { path: '/nope' }, 404, 'NOT_FOUND'],
    ['a wrong method', body(), { method: 'GET' }, 405, 'INVALID_INPUT'],
    ['malformed JSON', '{"request_id":', {}, 400, 'INVALID_INPUT'],
    ['a schema violation', { request_id: 'r' }, {}, 400, 'INVALID_INPUT'],
    ['both prompt and messages', body({ messages: [{ role: 'user', content: 'x' }] }), {}, 400, 'INVALID_INPUT'],
    ['an unknown model', body({ model: 'other' }), {}, 404, 'NOT_FOUND'],
  ] as const)('refuses %s in the error shape, without calling the model', async (_name, requestBody, options, status, code) => {
    const { sink, outcome, backend } = await run({}, requestBody, options);
    expect(sink.statusCode).toBe(status);
    expect(BackendErrorSchema.parse(sink.json()).error.code).toBe(code);
    expect(outcome.status).toBe(status);
    expect(backend.signals).toHaveLength(0);
  });

  it('answers 502 for invalid JSON or the wrong shape from the container', async () => {
    for (const answer of ['not json', '{"choices":[]}']) {
      const { sink } = await run({ invoke: async () => ({ contentType: 'application/json', body: bytes(answer) }) });
      expect(sink.statusCode).toBe(502);
      expect(BackendErrorSchema.parse(sink.json()).error.details).toMatchObject({ reason: 'bad_response' });
    }
  });

  it('answers an upstream failure with its status, Retry-After and reason', async () => {
    const { sink, outcome } = await run({ invoke: () => Promise.reject(new ThrottledError('slow down', { retryAfterSeconds: 5, reason: 'throttled' })) });
    expect(sink.statusCode).toBe(429);
    expect(sink.headers['retry-after']).toBe('5');
    expect(sink.json()).toEqual({ error: { code: 'RATE_LIMITED', message: 'slow down', details: { reason: 'throttled', retry_after: 5 } } });
    expect(outcome.error?.name).toBe('ThrottledError');
  });

  it('answers 504 when the sync call outlives the request timeout, and aborts it', async () => {
    const { sink, backend } = await run({ invoke: (signal) => untilAborted(signal) }, body(), { timeouts: { requestMs: 20 } });
    expect(sink.statusCode).toBe(504);
    expect(backend.signals[0]?.aborted).toBe(true);
  });
});

describe('streams', () => {
  it('writes token events as chunks arrive, then done with the container usage', async () => {
    const { sink, outcome } = await run(
      {
        async *stream() {
          yield line({ text: 'Hel' });
          yield new Uint8Array(0);
          yield line({ text: 'lo' });
          yield line({ done: true, usage: { prompt_tokens: 3, completion_tokens: 2 }, finish_reason: 'length' });
        },
      },
      body({ stream: true }),
    );
    expect(sink.headers).toMatchObject(SSE_HEADERS);
    expect(sink.events().map((e) => [e.event, JSON.parse(e.data)])).toEqual([
      ['token', { text: 'Hel' }],
      ['token', { text: 'lo' }],
      ['done', { usage: { prompt_tokens: 3, completion_tokens: 2 }, model_latency_ms: expect.any(Number), finish_reason: 'length' }],
    ]);
    expect(outcome).toMatchObject({ status: 200, stream: true, tokenEvents: 2, ttftMs: expect.any(Number), usage: { completion_tokens: 2 } });
  });

  it('trims a TGI stop sequence split across chunks and estimates usage the container did not give', async () => {
    const token = (text: string) => bytes(`data:${JSON.stringify({ token: { text } })}\n\n`);
    const { sink } = await run(
      {
        streamContentType: 'text/event-stream',
        async *stream() {
          yield token('a b');
          yield token(' E');
          yield token('ND');
          yield bytes(`data:${JSON.stringify({ token: { text: ' c' }, generated_text: 'a b END c', details: { finish_reason: 'stop_sequence' } })}\n\n`);
        },
      },
      body({ model: 'tgi-m', stream: true, params: { stop: ['END'] } }),
    );
    const events = sink.events();
    expect(
      events
        .filter((e) => e.event === 'token')
        .map((e) => JSON.parse(e.data).text)
        .join(''),
    ).toBe('a b ');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({
      finish_reason: 'stop',
      usage: { prompt_tokens: estimateTokens('Hello'), completion_tokens: estimateTokens('a b ') },
    });
  });

  it('answers an in-band error before the first token with status + JSON, not a stream', async () => {
    const { sink } = await run(
      {
        async *stream() {
          yield line({ error: 'CUDA out of memory at 10.0.0.1' });
        },
      },
      body({ stream: true }),
    );
    expect(sink.statusCode).toBe(502);
    expect(sink.headers['content-type']).toBe('application/json');
    expect(sink.text()).not.toContain('CUDA');
  });

  it('ends with an error event after an in-band error mid-stream, and cancels the upstream call', async () => {
    const { sink, backend, outcome } = await run(
      {
        async *stream(signal) {
          yield line({ text: 'a' });
          yield line({ error: 'boom' });
          await untilAborted(signal);
        },
      },
      body({ stream: true }),
    );
    expect(sink.events().map((e) => e.event)).toEqual(['token', 'error']);
    expect(JSON.parse(sink.events()[1]!.data)).toMatchObject({ code: 'UPSTREAM_ERROR', details: { reason: 'model_stream_error' } });
    expect(backend.signals[0]?.aborted).toBe(true);
    expect(outcome).toMatchObject({ status: 200, midStream: true });
  });

  it('ends with an error event when the stream stops before the generation completed', async () => {
    const { sink } = await run(
      {
        async *stream() {
          yield line({ text: 'a' });
        },
      },
      body({ stream: true }),
    );
    expect(sink.events().map((e) => e.event)).toEqual(['token', 'error']);
    expect(JSON.parse(sink.events()[1]!.data).details.reason).toBe('stream_truncated');
  });

  it('ends with a TIMEOUT error event when the stream stalls after the first token', async () => {
    const { sink, backend } = await run(
      {
        async *stream(signal) {
          yield line({ text: 'a' });
          await untilAborted(signal);
        },
      },
      body({ stream: true }),
      { timeouts: { idleMs: 30 } },
    );
    expect(sink.events().map((e) => e.event)).toEqual(['token', 'error']);
    expect(JSON.parse(sink.events()[1]!.data)).toMatchObject({ code: 'TIMEOUT', details: { reason: 'idle_timeout' } });
    expect(backend.signals[0]?.aborted).toBe(true);
  });

  it('answers 504 JSON when no token arrives within the first-token timeout', async () => {
    const { sink } = await run({ stream: (signal) => ({ [Symbol.asyncIterator]: () => ({ next: () => untilAborted(signal) }) }) }, body({ stream: true }), {
      timeouts: { firstTokenMs: 30 },
    });
    expect(sink.statusCode).toBe(504);
    expect(BackendErrorSchema.parse(sink.json()).error.details).toMatchObject({ reason: 'first_token_timeout' });
  });

  it('stops and cancels upstream when the caller leaves mid-stream, writing nothing more', async () => {
    const caller = new AbortController();
    const backend = scriptedBackend({
      async *stream(signal) {
        yield line({ text: 'a' });
        await untilAborted(signal);
      },
    });
    const sink = new MemorySink();
    sink.onWrite = () => caller.abort(new Error('client gone'));
    const outcome = await handleInvoke(invokeEvent(body({ stream: true })), sink, backend, { signal: caller.signal });
    expect(sink.events().map((e) => e.event)).toEqual(['token']);
    expect(outcome).toMatchObject({ status: 499, midStream: false, error: { name: 'ClientClosedError' } });
    expect(backend.signals[0]?.aborted).toBe(true);
  });

  it('treats a failed write as the caller leaving', async () => {
    const backend = scriptedBackend({
      async *stream() {
        yield line({ text: 'a' });
        yield line({ text: 'b' });
        yield line({ done: true });
      },
    });
    const sink = new MemorySink();
    sink.failAfterWrites = 1;
    const outcome = await handleInvoke(invokeEvent(body({ stream: true })), sink, backend, { signal: new AbortController().signal });
    expect(outcome.status).toBe(499);
    expect(sink.events().map((e) => e.event)).toEqual(['token']);
  });

  it('maps a failure to open the stream through the transport, as JSON', async () => {
    const { sink } = await run({ streamError: new Error('socket hang up') }, body({ stream: true }));
    expect(sink.statusCode).toBe(502);
    expect(BackendErrorSchema.parse(sink.json()).error.details).toMatchObject({ reason: 'unexpected' });
  });
});
