/**
 * The Responses API through the worker in workerd against the real local stack: the response
 * object, the stream's event sequence and sequence numbers (live, replayed from the cache and
 * coalesced), stored responses (retrieve, delete, tenant isolation, TTL, `store: false`),
 * `previous_response_id` continuing the stored conversation, idempotency and limits as on chat
 * completions, and refusals that name the parameter.
 */
import { createExecutionContext, env, SELF } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { ResponseObjectSchema, type ResponseObject } from '../../shared/contracts/responses';
import type { SseMessage } from '../../shared/sse';
import { createApp } from '../app';
import { BASE, modelConfig, modelReset, modelStats, post, sseMessages } from '../testing/gateway-client';
import { seedTenantKey, store } from '../testing/seed';

const model = inject('model');
const unique = (label: string) => `${label} ${crypto.randomUUID()}`;

afterEach(async () => {
  await modelReset();
});

const send = (method: string, path: string, key: string) => SELF.fetch(`${BASE}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
const responseOf = async (res: Response) => ResponseObjectSchema.parse(await res.json());
const events = (messages: SseMessage[]) => messages.map((m) => ({ name: m.event, data: JSON.parse(m.data) as Record<string, unknown> & { type: string } }));

const TEXT_SEQUENCE = (deltas: number) => [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.content_part.added',
  ...Array<string>(deltas).fill('response.output_text.delta'),
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
  'response.completed',
];

/** Checks a text stream's full event sequence and returns its final response and its deltas' text. */
function checkSequence(messages: SseMessage[]): { final: ResponseObject; text: string } {
  const all = events(messages);
  const deltas = all.filter((e) => e.data.type === 'response.output_text.delta');
  expect(all.map((e) => e.data.type)).toEqual(TEXT_SEQUENCE(deltas.length));
  // The SSE event name is the type, and the sequence numbers count from 0 without a gap.
  expect(all.every((e) => e.name === e.data.type)).toBe(true);
  expect(all.map((e) => e.data.sequence_number)).toEqual(all.map((_, i) => i));
  const final = ResponseObjectSchema.parse(all.at(-1)!.data.response);
  const created = ResponseObjectSchema.parse(all[0]!.data.response);
  expect(created).toMatchObject({ id: final.id, status: 'in_progress', output: [], usage: null });
  const itemId = final.output[0]!.id;
  for (const e of all.slice(2, -1)) expect(e.data.item_id ?? (e.data.item as { id: string }).id).toBe(itemId);
  const text = deltas.map((e) => e.data.delta as string).join('');
  const done = all.find((e) => e.data.type === 'response.output_text.done')!;
  expect(done.data.text).toBe(text);
  expect(final.output_text).toBe(text);
  return { final, text };
}

describe('POST /v1/responses', () => {
  it('answers a response object with a message item, output_text and usage', async () => {
    const { key } = await seedTenantKey();
    const res = await post('/v1/responses', key, { model, input: unique('Say hello'), max_output_tokens: 6, temperature: 0 });
    expect(res.status).toBe(200);
    const body = await responseOf(res);
    expect(body.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(body).toMatchObject({ object: 'response', model, status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, error: null });
    expect(body.output).toHaveLength(1);
    expect(body.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'incomplete', id: expect.stringMatching(/^msg_/) });
    const message = body.output[0]!;
    if (message.type !== 'message') throw new Error('expected a message item');
    expect(message.content[0]!.type).toBe('output_text');
    expect(body.output_text).toBe(message.content[0]!.text);
    expect(body.output_text.length).toBeGreaterThan(0);
    expect(body.usage).toMatchObject({ output_tokens: 6, total_tokens: body.usage!.input_tokens + 6 });
    expect(body.usage!.input_tokens).toBeGreaterThan(0);
    expect(body.created_at).toBeLessThanOrEqual(body.completed_at!);
  });

  it('streams the full event sequence, whose text and final response match the sync answer', async () => {
    const { key } = await seedTenantKey();
    const request = { model, input: [{ role: 'user', content: [{ type: 'input_text', text: unique('Stream it') }] }], max_output_tokens: 8, temperature: 0 };
    const sync = await responseOf(await post('/v1/responses', key, request));
    // no-cache: the deterministic sync answer would otherwise serve this stream from the cache.
    const res = await post('/v1/responses', key, { ...request, stream: true }, { 'cache-control': 'no-cache' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-cache')).toBe('BYPASS');
    const messages = await sseMessages(res);
    const { final, text } = checkSequence(messages);
    console.warn(`responses stream: ${messages.length} events, text ${JSON.stringify(text)}`);
    expect(text).toBe(sync.output_text);
    expect(final.usage).toEqual(sync.usage);
    expect(final.id).not.toBe(sync.id);
    // The stored answer is the stream's final response.
    expect(await responseOf(await send('GET', `/v1/responses/${final.id}`, key))).toEqual(final);
  });

  it('replays a cached stream and coalesced followers in the same sequence', { timeout: 60_000 }, async () => {
    const { key } = await seedTenantKey();
    const request = { model, input: unique('cache and coalesce'), max_output_tokens: 5, temperature: 0, stream: true };
    await modelConfig({ ttftMs: 800 });
    const before = (await modelStats()).invocations;
    // Each body is read as it arrives: a follower waits for the leader's whole stream.
    const read = async () => {
      const res = await post('/v1/responses', key, request);
      return { tier: `${res.headers.get('x-cache')}/${res.headers.get('x-cache-tier') ?? '-'}`, messages: await sseMessages(res) };
    };
    const pair = await Promise.all([read(), read()]);
    const tiers = pair.map((p) => p.tier).sort();
    const [first, second] = pair.map((p) => checkSequence(p.messages)) as [ReturnType<typeof checkSequence>, ReturnType<typeof checkSequence>];
    const cached = await post('/v1/responses', key, request);
    expect(cached.headers.get('x-cache')).toBe('HIT');
    const third = checkSequence(await sseMessages(cached));
    const calls = (await modelStats()).invocations - before;
    console.warn(`responses coalescing: concurrent pair ${JSON.stringify(tiers)}, then ${cached.headers.get('x-cache-tier')}; model calls ${calls}`);
    expect(tiers).toEqual(['HIT/COALESCED', 'MISS/-']);
    expect(calls).toBe(1);
    expect(second.text).toBe(first.text);
    expect(third.text).toBe(first.text);
    expect(new Set([first.final.id, second.final.id, third.final.id]).size).toBe(3);
  });

  it('ends a stream cut by the model with response.failed, then an error event the SDKs raise', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ streamCutAfter: 3 });
    const res = await post('/v1/responses', key, { model, input: unique('cut me'), max_output_tokens: 20, stream: true });
    expect(res.status).toBe(200);
    const all = events(await sseMessages(res));
    const types = all.map((e) => e.data.type);
    expect(types.slice(0, 4)).toEqual(TEXT_SEQUENCE(0).slice(0, 4));
    expect(types.slice(-2)).toEqual(['response.failed', 'error']);
    expect(types.filter((t) => t === 'response.output_text.delta').length).toBeGreaterThan(0);
    expect(all.map((e) => e.data.sequence_number)).toEqual(all.map((_, i) => i));
    const failed = ResponseObjectSchema.parse(all.at(-2)!.data.response);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'server_error' } });
    expect(all.at(-1)!.data).toMatchObject({ code: 'UPSTREAM_ERROR', param: null, error: { code: 'UPSTREAM_ERROR', type: 'api_error' } });
    // Not stored: only finished answers are.
    expect((await send('GET', `/v1/responses/${failed.id}`, key)).status).toBe(404);
  });

  it('answers a failure before the stream starts with the OpenAI error envelope and Retry-After', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ forcedStatus: 503 });
    const res = await post('/v1/responses', key, { model, input: 'x', stream: true });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = ErrorEnvelopeSchema.parse(await res.json());
    expect(body.error).toMatchObject({ code: 'UPSTREAM_ERROR', type: 'api_error' });
  });
});

describe('stored responses', () => {
  it('retrieves and deletes a stored response; store: false stores nothing', async () => {
    const { key, tenant } = await seedTenantKey();
    const created = await responseOf(await post('/v1/responses', key, { model, input: unique('keep me'), max_output_tokens: 3, metadata: { topic: 'test' } }));
    expect(created).toMatchObject({ store: true, metadata: { topic: 'test' } });
    const ttl = await store.ttl(`gw:resp:${tenant.tenantId}:${created.id}`);
    console.warn(`stored response TTL: ${ttl} s`);
    expect(ttl).toBeGreaterThan(30 * 86_400 - 60);
    expect(ttl).toBeLessThanOrEqual(30 * 86_400);
    expect(await responseOf(await send('GET', `/v1/responses/${created.id}`, key))).toEqual(created);
    const deleted = await send('DELETE', `/v1/responses/${created.id}`, key);
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ id: created.id, object: 'response', deleted: true });
    const gone = await send('GET', `/v1/responses/${created.id}`, key);
    expect(gone.status).toBe(404);
    expect(ErrorEnvelopeSchema.parse(await gone.json()).error).toMatchObject({ code: 'NOT_FOUND', type: 'not_found_error' });
    expect((await send('DELETE', `/v1/responses/${created.id}`, key)).status).toBe(404);

    const unstored = await responseOf(await post('/v1/responses', key, { model, input: unique('forget me'), max_output_tokens: 3, store: false }));
    expect(unstored.store).toBe(false);
    expect((await send('GET', `/v1/responses/${unstored.id}`, key)).status).toBe(404);
  });

  it("never shows, continues or deletes another tenant's response", async () => {
    const a = await seedTenantKey();
    const b = await seedTenantKey();
    const mine = await responseOf(await post('/v1/responses', a.key, { model, input: unique('tenant a'), max_output_tokens: 3 }));
    const statuses = {
      get: (await send('GET', `/v1/responses/${mine.id}`, b.key)).status,
      delete: (await send('DELETE', `/v1/responses/${mine.id}`, b.key)).status,
      continue: (await post('/v1/responses', b.key, { model, input: 'go on', previous_response_id: mine.id })).status,
    };
    console.warn(`tenant isolation: tenant B on tenant A's response → ${JSON.stringify(statuses)}`);
    expect(statuses).toEqual({ get: 404, delete: 404, continue: 404 });
    expect((await send('GET', `/v1/responses/${mine.id}`, a.key)).status).toBe(200);
  });

  it('continues the stored conversation: the follow-up answers what chat completions answer for the whole conversation', async () => {
    const { key } = await seedTenantKey();
    const question = unique('First question');
    const first = await responseOf(
      await post('/v1/responses', key, { model, instructions: 'Be brief.', input: question, max_output_tokens: 5, temperature: 0 }),
    );
    const followUp = await post('/v1/responses', key, { model, input: 'And then?', previous_response_id: first.id, max_output_tokens: 6, temperature: 0 });
    expect(followUp.status).toBe(200);
    const second = await responseOf(followUp);
    expect(second.previous_response_id).toBe(first.id);
    // Instructions are not carried over (as OpenAI does): the conversation is the turns and the answer.
    const chat = await post('/v1/chat/completions', key, {
      model,
      messages: [
        { role: 'user', content: question },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'And then?' },
      ],
      max_tokens: 6,
      temperature: 0,
    }).then((r) => r.json() as Promise<{ choices: { message: { content: string } }[]; usage: { prompt_tokens: number } }>);
    expect(second.output_text).toBe(chat.choices[0]!.message.content);
    expect(second.usage!.input_tokens).toBe(chat.usage.prompt_tokens);
    // A third turn continues both earlier ones.
    const third = await responseOf(await post('/v1/responses', key, { model, input: 'Finally?', previous_response_id: second.id, max_output_tokens: 4 }));
    expect(third.usage!.input_tokens).toBeGreaterThan(second.usage!.input_tokens);
  });

  it('stores nothing when the TTL is 0', async () => {
    const { key, tenant } = await seedTenantKey();
    const app = createApp();
    const res = await app.request(
      `${BASE}/v1/responses`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, input: 'x', max_output_tokens: 2 }),
      },
      { ...env, RESPONSES_STORE_TTL_S: '0' },
      createExecutionContext(),
    );
    const body = await responseOf(res);
    expect(body.store).toBe(false);
    expect(await store.exists(`gw:resp:${tenant.tenantId}:${body.id}`)).toBe(0);
  });
});

describe('a store outage', () => {
  const admin = (action: 'stop' | 'start') => fetch(`${inject('outageBridgeAdminUrl')}/${action}`, { method: 'POST' }).then((r) => r.json());
  afterEach(async () => {
    await admin('start');
  });

  it('answers 503 with Retry-After where a stored response is read or written, never a 500', async () => {
    const { key } = await seedTenantKey();
    const app = createApp();
    const bindings = { ...env, UPSTASH_REDIS_REST_URL: inject('outageBridgeUrl'), STORE_TIMEOUT_MS: '500' };
    const call = (method: string, path: string, body?: unknown) =>
      app.request(
        `${BASE}${path}`,
        { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) },
        bindings,
        createExecutionContext(),
      );
    // Stored while the store is up; the key is then known to this isolate.
    const stored = await responseOf(await call('POST', '/v1/responses', { model, input: unique('before'), max_output_tokens: 2 }));
    await admin('stop');
    const read = await call('GET', `/v1/responses/${stored.id}`);
    const continued = await call('POST', '/v1/responses', { model, input: 'more', previous_response_id: stored.id, max_output_tokens: 2 });
    const written = await call('POST', '/v1/responses', { model, input: unique('during'), max_output_tokens: 2 });
    const streamed = await call('POST', '/v1/responses', { model, input: unique('during stream'), max_output_tokens: 2, stream: true });
    const unstored = await call('POST', '/v1/responses', { model, input: unique('not stored'), max_output_tokens: 2, store: false });
    const statuses = [read, continued, written].map((r) => `${r.status} retry-after=${r.headers.get('retry-after')}`);
    console.warn(`store outage: GET, previous_response_id, POST → ${JSON.stringify(statuses)}; store: false → ${unstored.status}`);
    for (const res of [read, continued, written]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(ErrorEnvelopeSchema.parse(await res.json()).error).toMatchObject({ code: 'UPSTREAM_ERROR', type: 'api_error' });
    }
    expect(unstored.status).toBe(200);
    expect((await responseOf(unstored)).store).toBe(false);
    // A stream cannot change its status: it ends with response.failed and an error instead of completing unstored.
    expect(streamed.status).toBe(200);
    const types = events(await sseMessages(streamed)).map((e) => e.data.type);
    expect(types.slice(-2)).toEqual(['response.failed', 'error']);
    expect(types).not.toContain('response.completed');
  });
});

describe('limits, idempotency and errors as on chat completions', () => {
  it('replays an Idempotency-Key with the same response id and one backend call', async () => {
    const { key } = await seedTenantKey();
    const body = { model, input: unique('once'), max_output_tokens: 3, temperature: 0.9 };
    const headers = { 'idempotency-key': crypto.randomUUID() };
    const before = (await modelStats()).invocations;
    const first = await responseOf(await post('/v1/responses', key, body, headers));
    let replay: Response;
    for (;;) {
      replay = await post('/v1/responses', key, body, headers);
      if (replay.status !== 409) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await responseOf(replay)).id).toBe(first.id);
    expect((await modelStats()).invocations - before).toBe(1);
  });

  it('counts requests in the plan windows and answers 429 in the OpenAI shape', async () => {
    const { key } = await seedTenantKey({ overrides: { requestsPerMinute: 1 } });
    expect((await post('/v1/responses', key, { model, input: 'one', max_output_tokens: 2 })).status).toBe(200);
    const limited = await post('/v1/responses', key, { model, input: 'two', max_output_tokens: 2 });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(ErrorEnvelopeSchema.parse(await limited.json()).error).toMatchObject({ code: 'RATE_LIMITED', type: 'rate_limit_error' });
  });
});

describe('refusals that name the parameter', () => {
  const cases: Array<[string, Record<string, unknown>, number, string]> = [
    ['empty string input', { input: '' }, 400, 'input'],
    ['empty item list', { input: [] }, 400, 'input'],
    ['input of the wrong type', { input: 42 }, 400, 'input'],
    ['an item that is not an object', { input: ['hi'] }, 400, 'input.0'],
    ['an unknown item type', { input: [{ type: 'computer_call', call_id: 'c' }] }, 400, 'input.0.type'],
    ['a message with a bad role', { input: [{ role: 'robot', content: 'x' }] }, 400, 'input.0.role'],
    ['a content part of the wrong type', { input: [{ role: 'user', content: [{ type: 'input_text', text: 7 }] }] }, 400, 'input.0.content.0.text'],
    ['an unknown content part type', { input: [{ role: 'user', content: [{ type: 'hologram' }] }] }, 400, 'input.0.content.0.type'],
    ['an image part', { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'https://x.test/a.png' }] }] }, 400, 'input.0.content.0.type'],
    ['only empty text', { input: [{ role: 'user', content: '' }] }, 400, 'input'],
    [
      'a function tool on a model without tools',
      { input: 'x', tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }] },
      400,
      'tools',
    ],
    ['a hosted tool', { input: 'x', tools: [{ type: 'web_search' }] }, 400, 'tools.0.type'],
    ['tool_choice required without tools', { input: 'x', tool_choice: 'required' }, 400, 'tool_choice'],
    ['a function_call item on a model without tools', { input: [{ type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' }] }, 400, 'input.0'],
    [
      'a function_call_output item',
      {
        input: [
          { role: 'user', content: 'hi' },
          { type: 'function_call_output', call_id: 'c1', output: 'sunny' },
        ],
      },
      400,
      'input.1.call_id',
    ],
    ['an invalid json_schema', { input: 'x', text: { format: { type: 'json_schema', name: 'thing', schema: { type: 7 } } } }, 400, 'text.format.schema.type'],
    ['background mode', { input: 'x', background: true }, 400, 'background'],
    ['max_output_tokens over the plan', { input: 'x', max_output_tokens: 32_000 }, 400, 'max_output_tokens'],
    ['metadata that is not strings', { input: 'x', metadata: { n: 1 } }, 400, 'metadata.n'],
    ['an unknown previous_response_id', { input: 'x', previous_response_id: `resp_${'0'.repeat(32)}` }, 404, 'previous_response_id'],
    ['a previous_response_id of another gateway', { input: 'x', previous_response_id: 'resp_abc' }, 404, 'previous_response_id'],
  ];
  for (const [name, body, status, path] of cases) {
    it(`refuses ${name} with ${status} naming ${path}`, async () => {
      const { key } = await seedTenantKey();
      const res = await post('/v1/responses', key, { model, ...body });
      expect(res.status).toBe(status);
      const error = ErrorEnvelopeSchema.parse(await res.json()).error;
      const issues = (error.details?.issues ?? []) as Array<{ path: string }>;
      expect(issues.map((i) => i.path)).toContain(path);
      expect(error.type).toBe(status === 404 ? 'not_found_error' : 'invalid_request_error');
    });
  }
});
