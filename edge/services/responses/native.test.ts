/**
 * The native path of `POST /v1/responses` through the worker in workerd, the real ECS adapter in the
 * local Lambda host, and the reference model server's Responses API (as vLLM serves it): the
 * request passes through (function tools included, which the translated path refuses), with the
 * gateway's own ids, stored responses, limits and idempotency.
 */
import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ErrorEnvelopeSchema } from '../../../shared/errors';
import type { SseMessage } from '../../../shared/sse';
import { BASE, modelConfig, modelReset, post, sseMessages } from '../../testing/gateway-client';
import { seedTenantKey } from '../../testing/seed';
import { ModelRouteSchema } from '../route-table';

/** tools/stack/stack.ts LOCAL_NATIVE_RESPONSES_MODEL: routed with `responses: "native"`. */
const NATIVE = 'qwen-2.5-7b-vllm';
const modelServer = inject('modelServerUrl');
const unique = (label: string) => `${label} ${crypto.randomUUID()}`;
const tools = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }];

type Json = Record<string, unknown> & { id?: string; output?: Array<Record<string, unknown>>; output_text?: string; usage?: Record<string, number> };

afterEach(async () => {
  await modelReset();
});

const routeStats = () =>
  fetch(`${modelServer}/admin/stats`)
    .then((r) => r.json() as Promise<{ byRoute: Record<string, { invocations: number }> }>)
    .then((s) => ({ responses: s.byRoute['openai.responses']?.invocations ?? 0, chat: s.byRoute['openai.chat']?.invocations ?? 0 }));
const get = (path: string, key: string) => SELF.fetch(`${BASE}${path}`, { headers: { authorization: `Bearer ${key}` } });
const events = (messages: SseMessage[]) =>
  messages.map((m) => ({ name: m.event, data: JSON.parse(m.data) as Json & { type: string; sequence_number: number } }));

describe('native Responses API (responses: "native")', () => {
  it('is only valid on a route of ECS backends (the adapter that relays it)', () => {
    const ecs = { name: 'e', url: 'https://e.example', kind: 'ecs' };
    const sagemaker = { name: 's', url: 'https://s.example', kind: 'sagemaker' };
    expect(ModelRouteSchema.safeParse({ backends: [ecs], responses: 'native' }).success).toBe(true);
    expect(ModelRouteSchema.safeParse({ backends: [sagemaker], responses: 'native' }).success).toBe(false);
    expect(ModelRouteSchema.safeParse({ backends: [ecs], fallbacks: [sagemaker], responses: 'native' }).success).toBe(false);
    expect(ModelRouteSchema.parse({ backends: [sagemaker] }).responses).toBe('translate');
  });

  it("passes the call to the model server's own Responses API, under the gateway's id", async () => {
    const { key } = await seedTenantKey();
    const before = await routeStats();
    const res = await post('/v1/responses', key, {
      model: NATIVE,
      instructions: 'Be brief.',
      input: unique('Hello'),
      max_output_tokens: 5,
      metadata: { via: 'native' },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('BYPASS');
    expect(res.headers.get('x-backend')).toBe('ecs-local');
    const body = (await res.json()) as Json;
    const after = await routeStats();
    console.warn(`native: model server calls ${JSON.stringify({ responses: after.responses - before.responses, chat: after.chat - before.chat })}`);
    expect(after.responses - before.responses).toBe(1);
    expect(after.chat - before.chat).toBe(0);
    expect(body).toMatchObject({ object: 'response', model: NATIVE, store: true, metadata: { via: 'native' }, instructions: 'Be brief.' });
    expect(body.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(body.output_text?.length).toBeGreaterThan(0);
    expect(body.usage?.output_tokens).toBe(5);
    expect(await get(`/v1/responses/${body.id}`, key).then((r) => r.json())).toEqual(body);
  });

  it('passes function tools through: the model calls one, and the follow-up carries its output', async () => {
    const { key } = await seedTenantKey();
    const called = (await (await post('/v1/responses', key, { model: NATIVE, input: 'Weather in Oslo?', tools, tool_choice: 'required' })).json()) as Json;
    const call = called.output?.[0];
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather' });
    const answer = await post('/v1/responses', key, {
      model: NATIVE,
      previous_response_id: called.id,
      input: [{ type: 'function_call_output', call_id: call?.call_id, output: 'sunny, 21 °C' }],
      tools,
      max_output_tokens: 4,
    });
    expect(answer.status).toBe(200);
    const body = (await answer.json()) as Json;
    expect(body.output?.[0]?.type).toBe('message');
    expect(body.previous_response_id).toBe(called.id);
    // The same continuation on the translated path is refused by name: its contract carries no tool calls.
    const translated = await post('/v1/responses', key, { model: inject('model'), previous_response_id: called.id, input: 'and?' });
    expect(translated.status).toBe(400);
    expect(ErrorEnvelopeSchema.parse(await translated.json()).error.details?.issues).toEqual([expect.objectContaining({ path: 'previous_response_id' })]);
  });

  it("relays the model server's event stream under the gateway's id, stored before it completes", async () => {
    const { key } = await seedTenantKey();
    const res = await post('/v1/responses', key, { model: NATIVE, input: unique('Stream'), max_output_tokens: 6, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const all = events(await sseMessages(res));
    const types = all.map((e) => e.data.type);
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    expect(all.map((e) => e.data.sequence_number)).toEqual(all.map((_, i) => i));
    const created = all[0]!.data.response as Json;
    const final = all.at(-1)!.data.response as Json;
    expect(created.id).toMatch(/^resp_[0-9a-f]{32}$/);
    expect(final.id).toBe(created.id);
    expect(final.output_text).toBe(
      all
        .filter((e) => e.data.type === 'response.output_text.delta')
        .map((e) => e.data.delta)
        .join(''),
    );
    expect(await get(`/v1/responses/${final.id}`, key).then((r) => r.json())).toEqual(final);
  });

  it('ends a stream the model server cuts with response.failed, then error', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ streamCutAfter: 2 });
    const all = events(await sseMessages(await post('/v1/responses', key, { model: NATIVE, input: unique('cut'), max_output_tokens: 10, stream: true })));
    const types = all.map((e) => e.data.type);
    expect(types).not.toContain('response.completed');
    expect(types.at(-1)).toBe('error');
    expect(all.map((e) => e.data.sequence_number)).toEqual(all.map((_, i) => i));
  });

  it('applies limits and Idempotency-Key as the translated path does', async () => {
    const limited = await seedTenantKey({ overrides: { requestsPerMinute: 1 } });
    expect((await post('/v1/responses', limited.key, { model: NATIVE, input: 'one', max_output_tokens: 2 })).status).toBe(200);
    const second = await post('/v1/responses', limited.key, { model: NATIVE, input: 'two', max_output_tokens: 2 });
    expect(second.status).toBe(429);
    expect(ErrorEnvelopeSchema.parse(await second.json()).error.type).toBe('rate_limit_error');

    const { key } = await seedTenantKey();
    const body = { model: NATIVE, input: unique('once'), max_output_tokens: 2 };
    const headers = { 'idempotency-key': crypto.randomUUID() };
    const before = await routeStats();
    const first = (await (await post('/v1/responses', key, body, headers)).json()) as Json;
    let replay: Response;
    for (;;) {
      replay = await post('/v1/responses', key, body, headers);
      if (replay.status !== 409) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as Json).id).toBe(first.id);
    expect((await routeStats()).responses - before.responses).toBe(1);
  });

  it('answers a model server failure before the stream with the OpenAI envelope', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ forcedStatus: 400 });
    const res = await post('/v1/responses', key, { model: NATIVE, input: 'x', stream: true });
    expect(res.status).toBe(400);
    expect(ErrorEnvelopeSchema.parse(await res.json()).error).toMatchObject({ code: 'INVALID_INPUT', type: 'invalid_request_error' });
  });
});
