/**
 * Streaming through the real stack from workerd: `/v1/infer/stream` and OpenAI `stream: true` pipe
 * the adapter's events without buffering, carry headers before the first byte, end cut streams with
 * an error event, answer pre-stream failures with a status, and cancel the model on client abort.
 */
import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { SseParser, type SseMessage } from '../../shared/sse';
import { ErrorEnvelopeSchema } from '../../shared/errors';

const apiKey = inject('apiKey');
const model = inject('model');
const modelServer = inject('modelServerUrl');
const BASE = 'https://gateway.test';

const admin = (config: Record<string, unknown>) =>
  fetch(`${modelServer}/admin/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) }).then((r) => r.text());
const stats = () =>
  fetch(`${modelServer}/admin/stats`).then((r) => r.json() as Promise<{ totals: { streamsCompleted: number; cancelled: number; streamsStarted: number } }>);

afterEach(async () => {
  await fetch(`${modelServer}/admin/reset`, { method: 'POST' });
});

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** Reads SSE messages one at a time from a response body. */
function events(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  const queue: SseMessage[] = [];
  return {
    async next(): Promise<SseMessage | undefined> {
      while (queue.length === 0) {
        const { done, value } = await reader.read();
        if (done) {
          queue.push(...parser.end());
          return queue.shift();
        }
        queue.push(...parser.push(value));
      }
      return queue.shift();
    },
    async all(): Promise<SseMessage[]> {
      const out: SseMessage[] = [];
      for (let m = await this.next(); m; m = await this.next()) out.push(m);
      return out;
    },
    cancel: () => reader.cancel(),
  };
}

describe('POST /v1/infer/stream', () => {
  it('streams token events then done, with the same text as the sync answer', async () => {
    const body = { model, prompt: 'Stream me a sentence', params: { max_tokens: 7, temperature: 0 } };
    const sync = await post('/v1/infer', body).then((r) => r.json() as Promise<{ output: string }>);
    // no-cache: the deterministic sync answer above would otherwise serve this stream from the cache.
    const res = await post('/v1/infer/stream', body, { 'cache-control': 'no-cache' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(res.headers.get('x-backend')).toBe('sagemaker-local');
    const all = await events(res).all();
    const tokens = all.filter((m) => m.event === 'token');
    expect(tokens.length).toBeGreaterThan(1);
    expect(tokens.map((m) => JSON.parse(m.data).text).join('')).toBe(sync.output);
    const done = all.at(-1)!;
    expect(done.event).toBe('done');
    expect(JSON.parse(done.data)).toMatchObject({ usage: { completion_tokens: 7 }, id: expect.stringMatching(/^inf_/) });
  });

  it('delivers the first token while the model is still generating', async () => {
    await admin({ perTokenMs: 150 });
    const before = await stats();
    const res = await post('/v1/infer/stream', { model, prompt: 'slow tokens', params: { max_tokens: 12 } });
    const stream = events(res);
    const first = await stream.next();
    expect(first?.event).toBe('token');
    const during = await stats();
    expect(during.totals.streamsStarted).toBe(before.totals.streamsStarted + 1);
    expect(during.totals.streamsCompleted).toBe(before.totals.streamsCompleted);
    const rest = await stream.all();
    expect(rest.at(-1)?.event).toBe('done');
  });

  it('ends a stream cut by the model with an error event, never a hang', async () => {
    await admin({ streamCutAfter: 3 });
    const res = await post('/v1/infer/stream', { model, prompt: 'cut me', params: { max_tokens: 20 } });
    expect(res.status).toBe(200);
    const all = await events(res).all();
    expect(all.filter((m) => m.event === 'token').length).toBeGreaterThan(0);
    const last = all.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({ code: 'UPSTREAM_ERROR' });
  });

  it('answers a failure before the first byte with a status and the envelope', async () => {
    await admin({ forcedStatus: 503 });
    const res = await post('/v1/infer/stream', { model, prompt: 'x' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ErrorEnvelopeSchema.parse(await res.json()).error.code).toBe('UPSTREAM_ERROR');
  });

  it('cancels the model when the client goes away mid-stream', async () => {
    await admin({ perTokenMs: 100 });
    const before = await stats();
    const res = await post('/v1/infer/stream', { model, prompt: 'abandon me', params: { max_tokens: 50 } });
    const stream = events(res);
    expect((await stream.next())?.event).toBe('token');
    await stream.cancel();
    let after = await stats();
    for (let i = 0; i < 50 && after.totals.cancelled === before.totals.cancelled; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await stats();
    }
    expect(after.totals.cancelled).toBe(before.totals.cancelled + 1);
    expect(after.totals.streamsCompleted).toBe(before.totals.streamsCompleted);
  });
});

describe('OpenAI streaming', () => {
  it('sends the role first, content deltas, a finish reason, usage when asked, then [DONE]', async () => {
    const res = await post('/v1/chat/completions', {
      model,
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    const all = await events(res).all();
    expect(all.at(-1)?.data).toBe('[DONE]');
    const chunks = all.slice(0, -1).map((m) => JSON.parse(m.data));
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.at(-2).choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 5 } });
  });
});

describe('client abort on a non-streaming request', () => {
  // workerd cancels a request's outstanding subrequests when its client disconnects; this pins that
  // the gateway keeps no backend call alive past that (nothing of ours may detach it, e.g. waitUntil).
  it('cancels the backend call when the client goes away before the answer', async () => {
    await admin({ perTokenMs: 100 });
    const before = await stats();
    const client = new AbortController();
    const pending = SELF.fetch(`${BASE}/v1/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'cache-control': 'no-store' },
      body: JSON.stringify({ model, prompt: 'abandon the sync call', params: { max_tokens: 60 } }),
      signal: client.signal,
    }).catch((err: unknown) => err);
    let during = await stats();
    for (let i = 0; i < 50 && during.totals.streamsStarted + (during as unknown as { inFlight: number }).inFlight === before.totals.streamsStarted; i++) {
      await new Promise((r) => setTimeout(r, 50));
      during = await stats();
    }
    client.abort();
    await pending;
    let after = await stats();
    for (let i = 0; i < 60 && after.totals.cancelled === before.totals.cancelled; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await stats();
    }
    console.warn(
      `sync abort: model server cancelled ${after.totals.cancelled - before.totals.cancelled}, completed ${after.totals.streamsCompleted - before.totals.streamsCompleted}`,
    );
    expect(after.totals.cancelled).toBe(before.totals.cancelled + 1);
  });
});
