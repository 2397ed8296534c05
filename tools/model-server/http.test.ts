import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generationFor } from './formats';
import { startModelServer, type ModelServer } from './server';
import { sseData } from './test-support';

let server: ModelServer;

beforeAll(async () => {
  server = await startModelServer({ maxBodyBytes: 4096, config: { modelName: 'ref' } });
});
afterAll(() => server.close());
beforeEach(() => server.reset());

function post(path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(server.url + path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
}

function put(path: string, body: unknown): Promise<Response> {
  return fetch(server.url + path, { method: 'PUT', body: JSON.stringify(body) });
}

describe('TGI native API', () => {
  const body = { inputs: 'Why is the sky blue?', parameters: { max_new_tokens: 6, details: true, decoder_input_details: true } };

  it('answers /generate with {generated_text, details}', async () => {
    const res = await post('/generate', body);
    expect(res.status).toBe(200);
    const json = (await res.json()) as {
      generated_text: string;
      details: { generated_tokens: number; finish_reason: string; prefill: unknown[]; tokens: unknown[] };
    };
    expect(json.generated_text).toBe(generationFor(body).rawText);
    expect(json.details).toMatchObject({ generated_tokens: 6, finish_reason: 'length', seed: null });
    expect(json.details.prefill).toHaveLength(6);
    expect(json.details.tokens).toHaveLength(6);
  });

  it('streams /generate_stream as TGI SSE events, the last one carrying generated_text', async () => {
    const res = await post('/generate_stream', body);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const raw = await res.text();
    expect(raw.startsWith('data:{')).toBe(true);
    const events = sseData(raw) as { token: { text: string }; generated_text: string | null; details: { generated_tokens: number } | null }[];
    expect(events).toHaveLength(6);
    expect(events.at(-1)?.generated_text).toBe(events.map((e) => e.token.text).join(''));
    expect(events.at(-1)?.details?.generated_tokens).toBe(6);
  });

  it('answers TGI validation errors with 422 {error, error_type}', async () => {
    const res = await post('/generate', { inputs: 'x', parameters: { top_p: 1.5 } });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: expect.stringMatching(/top_p/), error_type: 'validation' });
  });
});

describe('SageMaker container contract', () => {
  it('answers GET /ping with 200, and 503 while warming', async () => {
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    server.setConfig({ warmingForMs: 10_000 });
    expect((await fetch(`${server.url}/ping`)).status).toBe(503);
    expect((await fetch(`${server.url}/health`)).status).toBe(503);
  });

  it('detects the format on POST /invocations and streams when asked', async () => {
    const chat = { messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true };
    const res = await post('/invocations', chat);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = sseData(await res.text());
    expect(events.at(-1)).toBe('[DONE]');
    const sync = (await (await post('/invocations', { prompt: 'hi', max_tokens: 4 })).json()) as { output: string };
    expect(sync.output).toBe(generationFor({ prompt: 'hi', max_tokens: 4 }).text);
  });

  it('answers an undetectable body with 400', async () => {
    const res = await post('/invocations', { text: 'no known field' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { message: expect.stringMatching(/Cannot detect the request format/), code: 400 } });
  });
});

describe('bad input never crashes the server', () => {
  it.each([
    ['/v1/chat/completions', '{"messages": [', 400],
    ['/v1/chat/completions', { messages: 'hi' }, 400],
    ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], max_tokens: -1 }, 400],
    ['/v1/completions', { model: 'm' }, 400],
    ['/v1/completions', { model: 'm', prompt: 'x', n: 0 }, 400],
    ['/generate', 'not json', 422],
    ['/invocations', '[1,2,3]', 400],
    ['/v1/chat/completions', JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(5000) }] }), 413],
  ])('POST %s %j → %i', async (path, body, status) => {
    const res = await post(path, body);
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: unknown };
    expect(json.error).toBeDefined();
  });

  it('answers an oversized SageMaker payload with ValidationError', async () => {
    const res = await post('/endpoints/llm/invocations', { prompt: 'x'.repeat(5000) });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toMatch(/^ValidationError:/);
  });

  it('answers unknown routes with 404 and wrong methods with 405', async () => {
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await fetch(`${server.url}/v1/chat/completions`)).status).toBe(405);
    expect((await fetch(`${server.url}/endpoints/llm/invocations`)).status).toBe(405);
    const unknown = await post('/endpoints/llm/async-invocations', {});
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('x-amzn-errortype')).toMatch(/^UnknownOperationException/);
  });
});

describe('admin API', () => {
  it('merges a partial config and returns it', async () => {
    const res = await put('/admin/config', { ttftMs: 5, endpoints: { a: { errorRate: 1 } } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ttftMs: 5, perTokenMs: 0, modelName: 'ref', endpoints: { a: { errorRate: 1 } } });
    await put('/admin/config', { endpoints: { a: { forcedStatus: 503 }, b: { ttftMs: 1 } } });
    expect(server.config().endpoints).toEqual({ a: { errorRate: 1, forcedStatus: 503 }, b: { ttftMs: 1 } });
    await put('/admin/config', { endpoints: { a: null } });
    expect(server.config().endpoints).toEqual({ b: { ttftMs: 1 } });
  });

  it.each([
    [{ errorRate: 1.5 }, /errorRate/],
    [{ forcedStatus: 418 }, /forcedStatus/],
    [{ ttftMs: -1 }, /ttftMs/],
    [{ streamCutAfter: 1.5 }, /streamCutAfter/],
    [{ format: 'xml' }, /format/],
    [{ unknownKnob: true }, /unknownKnob/],
    [{ endpoints: { a: { modelName: 'x' } } }, /modelName/],
  ])('rejects %j with 400', async (patch, message) => {
    const before = server.config();
    const res = await put('/admin/config', patch);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
    expect(server.config()).toEqual(before);
  });

  it('rejects a malformed JSON patch with 400', async () => {
    const res = await fetch(`${server.url}/admin/config`, { method: 'PUT', body: '{' });
    expect(res.status).toBe(400);
  });

  it('turns warmingForMs into an absolute warmingUntil', async () => {
    const before = Date.now();
    const config = (await (await put('/admin/config', { warmingForMs: 2000 })).json()) as { warmingUntil: number };
    expect(config.warmingUntil).toBeGreaterThanOrEqual(before + 2000);
    expect(config).not.toHaveProperty('warmingForMs');
  });

  it('counts per route and endpoint, and resets config and counters', async () => {
    await put('/admin/config', { ttftMs: 3 });
    await post('/endpoints/alpha/invocations', { prompt: 'x', max_tokens: 2 });
    await post('/v1/completions', { model: 'beta', prompt: 'x', max_tokens: 3 });
    await post('/v1/completions', { model: 'beta', prompt: 42 });
    const stats = (await (await fetch(`${server.url}/admin/stats`)).json()) as Record<string, Record<string, Record<string, number>>>;
    expect(stats['byRoute']?.['sagemaker.invoke']).toMatchObject({ invocations: 1, succeeded: 1, tokensGenerated: 2 });
    expect(stats['byEndpoint']?.['beta']).toMatchObject({ invocations: 2, succeeded: 1, failed: 1, tokensGenerated: 3 });
    expect(stats['byStatus']).toEqual({ '200': 2, '400': 1 });
    const reset = await fetch(`${server.url}/admin/reset`, { method: 'POST' });
    expect(((await reset.json()) as { ttftMs: number }).ttftMs).toBe(0);
    expect(server.stats().totals.invocations).toBe(0);
  });
});
