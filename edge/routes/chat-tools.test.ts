/**
 * Tools on `/v1/chat/completions`, in workerd against the real stack: bad tool input gets a 400
 * naming its path, a capability the model lacks a 400 naming the parameter and model, tool calls
 * come back whole (sync) and as OpenAI's deltas (streamed), and a cached tool-call stream replays
 * its deltas as they came, under a key that covers the tools.
 */
import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { SseParser } from '../../shared/sse';

const apiKey = inject('apiKey');
const textModel = inject('model');
const modelServer = inject('modelServerUrl');
const model = 'llama-3.1-8b-vllm';
const BASE = 'https://gateway.test';

afterEach(async () => {
  await fetch(`${modelServer}/admin/reset`, { method: 'POST' });
});

function post(body: unknown, headers: Record<string, string> = {}) {
  return SELF.fetch(`${BASE}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function chunks(res: Response): Promise<Record<string, unknown>[]> {
  const parser = new SseParser();
  const text = await res.text();
  return [...parser.push(text), ...parser.end()].filter((m) => m.data !== '[DONE]').map((m) => JSON.parse(m.data) as Record<string, unknown>);
}

const weather = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
    strict: true,
  },
};
const ask = (text: string) => [{ role: 'user', content: text }];
const unique = (text: string) => `${text} ${crypto.randomUUID()}`;

async function issues(res: Response): Promise<{ status: number; message: string; paths: string[] }> {
  const body = (await res.json()) as { error: { message: string; details?: { issues?: { path: string }[] } } };
  return { status: res.status, message: body.error.message, paths: (body.error.details?.issues ?? []).map((i) => i.path) };
}

describe('bad tool input', () => {
  it('refuses an invalid JSON Schema with its path', async () => {
    const bad = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { x: { type: 'objekt' } } } } };
    const got = await issues(await post({ model, messages: ask('hi'), tools: [bad] }));
    expect(got).toMatchObject({ status: 400, paths: ['tools.0.function.parameters.properties.x.type'] });
  });

  it('refuses more than 128 tools and a schema over 64 KiB', async () => {
    const many = Array.from({ length: 129 }, (_, i) => ({ type: 'function', function: { name: `f${i}` } }));
    expect(await issues(await post({ model, messages: ask('hi'), tools: many }))).toMatchObject({ status: 400, paths: ['tools'] });
    const big = { type: 'object', description: 'x'.repeat(66_000) };
    const got = await issues(await post({ model, messages: ask('hi'), tools: [{ type: 'function', function: { name: 'f', parameters: big } }] }));
    expect(got).toMatchObject({ status: 400, paths: ['tools.0.function.parameters'] });
    expect(got.message).toContain('65536');
  });

  it('refuses a tool message whose tool_call_id matches no earlier call', async () => {
    const messages = [
      { role: 'user', content: 'call it' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_2', content: 'sunny' },
    ];
    expect(await issues(await post({ model, messages, tools: [weather] }))).toMatchObject({ status: 400, paths: ['messages.2.tool_call_id'] });
  });

  it('refuses an unknown content part type with its path, and a tool_choice naming no tool', async () => {
    const parts = [{ role: 'user', content: [{ type: 'audio', audio: 'x' }] }];
    const got = await issues(await post({ model, messages: parts }));
    expect(got.status).toBe(400);
    expect(got.paths[0]).toMatch(/^messages\.0\.content/);
    const named = await post({ model, messages: ask('hi'), tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } });
    expect(await issues(named)).toMatchObject({ status: 400, paths: ['tool_choice.function.name'] });
  });

  it('refuses tools and response_format on a model without them, naming the parameter and the model', async () => {
    const tools = await issues(await post({ model: textModel, messages: ask('hi'), tools: [weather] }));
    expect(tools).toMatchObject({ status: 400, paths: ['tools'] });
    expect(tools.message).toContain(textModel);
    const format = await issues(await post({ model: 'custom-7b-json', messages: ask('hi'), response_format: { type: 'json_object' } }));
    expect(format).toMatchObject({ status: 400, paths: ['response_format'] });
    expect(format.message).toContain('custom-7b-json');
  });
});

describe('tool calls', () => {
  it('answers a required tool call whole, with finish_reason tool_calls and null content', async () => {
    const res = await post({ model, messages: ask(unique('weather')), tools: [weather], tool_choice: 'required' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      choices: { finish_reason: string; message: { content: null; tool_calls: { id: string; function: { name: string; arguments: string } }[] } }[];
    };
    const choice = body.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls[0]?.function.name).toBe('get_weather');
    expect(JSON.parse(choice.message.tool_calls[0]!.function.arguments)).toEqual({ city: expect.any(String) });
  });

  it('maps the legacy functions and function_call, and a function turn answering it', async () => {
    const legacy = { model, messages: ask(unique('weather')), functions: [weather.function], function_call: { name: 'get_weather' } };
    const first = (await (await post(legacy)).json()) as { choices: { message: { tool_calls: { function: { name: string; arguments: string } }[] } }[] };
    const call = first.choices[0]!.message.tool_calls[0]!.function;
    expect(call.name).toBe('get_weather');
    const messages = [
      ...legacy.messages,
      { role: 'assistant', content: null, function_call: call },
      { role: 'function', name: 'get_weather', content: 'sunny' },
    ];
    const second = await post({ model, messages, functions: [weather.function], max_tokens: 4 });
    expect(second.status).toBe(200);
    expect(((await second.json()) as { choices: { finish_reason: string }[] }).choices[0]?.finish_reason).toBe('length');
  });

  it('streams tool-call deltas as OpenAI does, and replays them from the cache exactly', async () => {
    const body = {
      model,
      messages: ask(unique('weather')),
      tools: [weather],
      tool_choice: 'required',
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    };
    const first = await post(body);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const live = await chunks(first);
    type Choice = {
      delta: { tool_calls?: { index: number; id?: string; type?: string; function: { name?: string; arguments?: string } }[] };
      finish_reason: string | null;
    };
    const choices = live.flatMap((c) => c.choices as Choice[]);
    const deltas = choices.flatMap((c) => c.delta.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather' } });
    expect(deltas.slice(1).every((d) => d.id === undefined && d.function.name === undefined && typeof d.function.arguments === 'string')).toBe(true);
    expect(deltas.length).toBeGreaterThan(2);
    expect(JSON.parse(deltas.map((d) => d.function.arguments ?? '').join(''))).toEqual({ city: expect.any(String) });
    expect(choices.at(-1)?.finish_reason).toBe('tool_calls');
    expect(live.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: expect.any(Number) } });

    const again = await post(body);
    expect(again.headers.get('x-cache')).toBe('HIT');
    const replayed = await chunks(again);
    const strip = (cs: Record<string, unknown>[]) => cs.map((c) => JSON.stringify([c.choices, c.usage]));
    expect(strip(replayed)).toEqual(strip(live));

    // The key covers the tools: the same messages without them, or with another choice, miss.
    const { tools: _, tool_choice: __, ...plain } = body;
    expect((await post(plain)).headers.get('x-cache')).toBe('MISS');
    expect((await post({ ...body, tool_choice: 'auto' })).headers.get('x-cache')).toBe('MISS');
    // A sync request with the same key is answered from the stream's entry, tool calls assembled.
    const sync = await post({ ...body, stream: false });
    expect(sync.headers.get('x-cache')).toBe('HIT');
    const message = ((await sync.json()) as { choices: { message: { tool_calls: { function: { arguments: string } }[] } }[] }).choices[0]!.message;
    expect(message.tool_calls[0]?.function.arguments).toBe(deltas.map((d) => d.function.arguments ?? '').join(''));
  });
});

describe('sampling parameters', () => {
  it('passes presence_penalty, frequency_penalty and logit_bias to vLLM, and refuses what TGI cannot honour', async () => {
    const params = { presence_penalty: 0.5, frequency_penalty: 0.2, logit_bias: { '1001': -100 } };
    expect((await post({ model, messages: ask('hi'), max_tokens: 3, ...params })).status).toBe(200);
    const tgi = await post({ model: textModel, messages: ask('hi'), max_tokens: 3, presence_penalty: 0.5 });
    expect(tgi.status).toBe(400);
    expect(((await tgi.json()) as { error: { message: string } }).error.message).toContain('presence_penalty');
    expect((await issues(await post({ model, messages: ask('hi'), logit_bias: { word: 1 } }))).status).toBe(400);
  });
});
