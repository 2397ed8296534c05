/**
 * Function tools and structured output on the translated Responses path, in workerd against the
 * real stack: a `function_call` output item (sync) and its streamed event sequence (item added,
 * argument deltas, arguments done, item done, with gapless sequence numbers), a follow-up that
 * answers the call through `previous_response_id` or inline items, `text.format` json_schema, and
 * the refusals of bad tool input with the path at fault.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { type ResponseObject, ResponseObjectSchema } from '../../shared/contracts/responses';
import { modelConfig, modelReset, modelStats, post, sseMessages } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';

/** An ECS model whose route declares tools and json_schema (tools/stack/stack.ts). */
const model = 'llama-3.1-8b-vllm';
const unique = (label: string) => `${label} ${crypto.randomUUID()}`;

afterEach(async () => {
  await modelReset();
});

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

async function refusal(res: Response): Promise<{ status: number; paths: string[]; message: string }> {
  const error = ErrorEnvelopeSchema.parse(await res.json()).error;
  return { status: res.status, message: error.message, paths: ((error.details?.issues ?? []) as Array<{ path: string }>).map((i) => i.path) };
}

describe('function tools on the translated Responses path', () => {
  it('answers a function_call item, and a follow-up with its output through previous_response_id gets text', async () => {
    const { key } = await seedTenantKey();
    const res = await post('/v1/responses', key, { model, input: unique('Weather in Oslo?'), tools: [weather], tool_choice: 'required' });
    expect(res.status).toBe(200);
    const body = ResponseObjectSchema.parse(await res.json());
    expect(body.status).toBe('completed');
    expect(body.output_text).toBe('');
    expect(body.output).toHaveLength(1);
    const call = body.output[0]!;
    if (call.type !== 'function_call') throw new Error(`expected a function_call item, got ${call.type}`);
    expect(call).toMatchObject({ name: 'get_weather', status: 'completed', id: expect.stringMatching(/^fc_/), call_id: expect.any(String) });
    expect(typeof (JSON.parse(call.arguments) as { city: unknown }).city).toBe('string');
    expect(body.tools).toEqual([weather]);
    expect(body.tool_choice).toBe('required');
    expect(body.usage!.input_tokens).toBeGreaterThan(0);
    expect(body.usage!.output_tokens).toBeGreaterThan(0);

    const followUp = await post('/v1/responses', key, {
      model,
      previous_response_id: body.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temperature_c":4}' }],
      tools: [weather],
      max_output_tokens: 8,
    });
    expect(followUp.status).toBe(200);
    const answer = ResponseObjectSchema.parse(await followUp.json());
    expect(answer.output.map((i) => i.type)).toEqual(['message']);
    expect(answer.output_text.length).toBeGreaterThan(0);
    expect(answer.previous_response_id).toBe(body.id);
  });

  it('takes a conversation of function_call and function_call_output items inline', async () => {
    const { key } = await seedTenantKey();
    const res = await post('/v1/responses', key, {
      model,
      store: false,
      tools: [weather],
      max_output_tokens: 8,
      input: [
        { role: 'user', content: unique('Weather in Oslo?') },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
        { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
      ],
    });
    expect(res.status).toBe(200);
    const body = ResponseObjectSchema.parse(await res.json());
    expect(body.output[0]?.type).toBe('message');
    expect(body.output_text.length).toBeGreaterThan(0);
  });

  it('streams the function call as item added, argument deltas, arguments done and item done, in sequence', async () => {
    const { key } = await seedTenantKey();
    const res = await post('/v1/responses', key, { model, input: unique('Weather in Bergen?'), tools: [weather], tool_choice: 'required', stream: true });
    expect(res.status).toBe(200);
    const all = (await sseMessages(res)).map((m) => ({ name: m.event, data: JSON.parse(m.data) as Record<string, unknown> & { type: string } }));
    const deltas = all.filter((e) => e.data.type === 'response.function_call_arguments.delta');
    expect(deltas.length).toBeGreaterThan(0);
    expect(all.map((e) => e.data.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      ...deltas.map(() => 'response.function_call_arguments.delta'),
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(all.every((e) => e.name === e.data.type)).toBe(true);
    expect(all.map((e) => e.data.sequence_number)).toEqual(all.map((_, i) => i));
    const final = ResponseObjectSchema.parse(all.at(-1)!.data.response);
    const call = final.output[0]!;
    if (call.type !== 'function_call') throw new Error('expected a function_call item');
    const added = all[2]!.data.item as Record<string, unknown>;
    expect(added).toMatchObject({ type: 'function_call', id: call.id, call_id: call.call_id, name: 'get_weather', arguments: '', status: 'in_progress' });
    for (const d of deltas) expect(d.data).toMatchObject({ item_id: call.id, output_index: 0 });
    const args = deltas.map((d) => d.data.delta as string).join('');
    expect(all.at(-3)!.data).toMatchObject({ item_id: call.id, output_index: 0, name: 'get_weather', arguments: args });
    expect(all.at(-2)!.data.item).toEqual(call);
    expect(call.arguments).toBe(args);
    expect(typeof (JSON.parse(args) as { city: unknown }).city).toBe('string');

    // The streamed answer is stored with its call: a follow-up answers it.
    const followUp = await post('/v1/responses', key, {
      model,
      previous_response_id: final.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'rain' }],
      max_output_tokens: 8,
      tools: [weather],
    });
    expect(followUp.status).toBe(200);
    expect(ResponseObjectSchema.parse(await followUp.json()).output_text.length).toBeGreaterThan(0);
  });

  it('replays a cached tool-call stream as the same event sequence, under a key that covers the tools', async () => {
    const { key } = await seedTenantKey();
    const request = { model, input: unique('Weather in Tromsø?'), tools: [weather], tool_choice: 'required', temperature: 0, stream: true };
    const read = async (body: Record<string, unknown>) => {
      const res = await post('/v1/responses', key, body);
      const all = (await sseMessages(res)).map((m) => JSON.parse(m.data) as Record<string, unknown> & { type: string });
      return { cache: res.headers.get('x-cache'), types: all.map((e) => e.type), final: ResponseObjectSchema.parse(all.at(-1)!.response) };
    };
    const live = await read(request);
    const replayed = await read(request);
    expect(live.cache).toBe('MISS');
    expect(replayed.cache).toBe('HIT');
    expect(replayed.types).toEqual(live.types);
    const strip = (o: ResponseObject['output']) => o.map((item) => ({ ...item, id: undefined }));
    expect(strip(replayed.final.output)).toEqual(strip(live.final.output));
    // Another tool set is another key.
    const other = await read({ ...request, tools: [{ ...weather, name: 'get_forecast' }] });
    expect(other.cache).toBe('MISS');
  });

  it('ends a stream whose strict tool arguments break their schema with response.failed, then error', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ schemaViolation: true });
    const res = await post('/v1/responses', key, { model, input: unique('Weather?'), tools: [weather], tool_choice: 'required', stream: true });
    const all = (await sseMessages(res)).map((m) => JSON.parse(m.data) as Record<string, unknown> & { type: string });
    expect(all.map((e) => e.type).slice(-2)).toEqual(['response.failed', 'error']);
    expect(all.some((e) => e.type === 'response.completed')).toBe(false);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(ResponseObjectSchema.parse(all.at(-2)!.response)).toMatchObject({ status: 'failed', error: { code: 'server_error' } });
    expect((all.at(-1)!.error as { message: string }).message).toContain("tool call 'get_weather'");
  });

  it('asks once more for a sync answer that breaks a strict text.format, then refuses it as UPSTREAM_ERROR', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ schemaViolation: true });
    const before = (await modelStats()).invocations;
    const format = {
      type: 'json_schema',
      name: 'city',
      strict: true,
      schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    };
    const res = await post('/v1/responses', key, { model, input: unique('A city'), text: { format } });
    expect(res.status).toBe(502);
    const error = ErrorEnvelopeSchema.parse(await res.json()).error;
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', type: 'api_error' });
    expect(error.message).toContain("'city'");
    expect((await modelStats()).invocations - before).toBe(2);
  });

  it('answers text.format json_schema with JSON that validates, echoing the format', async () => {
    const { key } = await seedTenantKey();
    const format = {
      type: 'json_schema',
      name: 'city',
      strict: true,
      schema: {
        type: 'object',
        properties: { name: { type: 'string' }, population: { type: 'integer' } },
        required: ['name', 'population'],
        additionalProperties: false,
      },
    };
    const res = await post('/v1/responses', key, { model, input: unique('A city, as JSON'), text: { format } });
    expect(res.status).toBe(200);
    const body = ResponseObjectSchema.parse(await res.json());
    const parsed = JSON.parse(body.output_text) as { name: unknown; population: unknown };
    expect(typeof parsed.name).toBe('string');
    expect(Number.isInteger(parsed.population)).toBe(true);
    expect(body.text.format).toEqual(format);
  });
});

describe('bad tool input on the Responses path', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      'an invalid parameters schema',
      { tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: { x: { type: 'objekt' } } } }] },
      'tools.0.parameters.properties.x.type',
    ],
    ['a duplicate function name', { tools: [weather, weather] }, 'tools.1.name'],
    ['a tool_choice naming no tool', { tools: [weather], tool_choice: { type: 'function', name: 'get_time' } }, 'tool_choice.name'],
    ['a hosted tool_choice', { tools: [weather], tool_choice: { type: 'web_search' } }, 'tool_choice.type'],
    ['an invalid text.format schema', { text: { format: { type: 'json_schema', name: 'x', schema: { type: 'objekt' } } } }, 'text.format.schema.type'],
    ['a text.format name with spaces', { text: { format: { type: 'json_schema', name: 'my format', schema: { type: 'object' } } } }, 'text.format.name'],
    [
      'a function_call item with an unusable name',
      { input: [{ type: 'function_call', call_id: 'c1', name: 'get weather', arguments: '{}' }], tools: [weather] },
      'input.0.name',
    ],
    [
      'a function_call_output answering no earlier call',
      {
        input: [
          { role: 'user', content: 'hi' },
          { type: 'function_call_output', call_id: 'call_nope', output: 'x' },
        ],
        tools: [weather],
      },
      'input.1.call_id',
    ],
  ];
  for (const [name, body, path] of cases) {
    it(`refuses ${name} naming ${path}`, async () => {
      const { key } = await seedTenantKey();
      const got = await refusal(await post('/v1/responses', key, { model, input: 'hi', ...body }));
      expect(got).toMatchObject({ status: 400, paths: [path] });
    });
  }

  it('refuses a function_call_output whose call is not in the stored conversation', async () => {
    const { key } = await seedTenantKey();
    const first = ResponseObjectSchema.parse(await (await post('/v1/responses', key, { model, input: unique('hi'), max_output_tokens: 4 })).json());
    const res = await post('/v1/responses', key, {
      model,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'call_unknown', output: 'x' }],
    });
    expect(await refusal(res)).toMatchObject({ status: 400, paths: ['input.0.call_id'] });
  });

  it('refuses tools, tool turns and text.format on a model without them, naming the parameter and the model', async () => {
    const { key } = await seedTenantKey();
    const plain = 'custom-7b-json';
    const tools = await refusal(await post('/v1/responses', key, { model: plain, input: 'hi', tools: [weather] }));
    expect(tools).toMatchObject({ status: 400, paths: ['tools'] });
    expect(tools.message).toContain(plain);
    const turn = await refusal(
      await post('/v1/responses', key, {
        model: plain,
        input: [
          { type: 'function_call', call_id: 'c1', name: 'get_weather', arguments: '{}' },
          { type: 'function_call_output', call_id: 'c1', output: 'x' },
        ],
      }),
    );
    expect(turn).toMatchObject({ status: 400, paths: ['input.0'] });
    expect(turn.message).toContain(plain);
    const format = { type: 'json_schema', name: 'thing', schema: { type: 'object' } };
    const structured = await refusal(await post('/v1/responses', key, { model: plain, input: 'hi', text: { format } }));
    expect(structured).toMatchObject({ status: 400, paths: ['text.format'] });
    expect(structured.message).toContain(plain);
  });
});
