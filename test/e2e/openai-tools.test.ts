import { Validator } from '@seriousme/openapi-schema-validator';
import OpenAI, { type APIError, BadRequestError } from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { type ClientStack, startClientStack } from './client-stack';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { LOCAL_MODEL, type Stack } from '../../tools/stack/stack';

let stack: Stack;
let client: OpenAI;
let running: ClientStack | undefined;

beforeAll(async () => {
  running = await startClientStack('tools', 'Tools test');
  ({ stack, client } = running);
}, 120_000);

afterAll(async () => {
  await running?.stop();
});

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
    strict: true,
  },
};
const question: ChatCompletionMessageParam[] = [
  { role: 'developer', content: 'Use tools when they help.' },
  { role: 'user', content: 'What is the weather in Paris? Call get_weather.' },
];
const Arguments = z.object({ city: z.string(), unit: z.enum(['celsius', 'fahrenheit']) });

// vLLM behind the ECS adapter; LMI's OpenAI chat schema and TGI's Messages API behind the SageMaker adapter.
describe.each(['llama-3.1-8b-vllm', 'mistral-7b-instruct-lmi', 'zephyr-7b-tgi-messages'])('tool round trip on %s', (model) => {
  it('calls the tool, then answers from its result (sync)', async () => {
    const first = await client.chat.completions.create({ model, messages: question, tools: [weather], temperature: 0, max_tokens: 32 });
    const choice = first.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('no function call');
    expect(call.function.name).toBe('get_weather');
    expect(Arguments.safeParse(JSON.parse(call.function.arguments)).success).toBe(true);

    const second = await client.chat.completions.create({
      model,
      tools: [weather],
      temperature: 0,
      max_tokens: 8,
      messages: [...question, choice.message, { role: 'tool', tool_call_id: call.id, content: '{"temperature": 18}' }],
    });
    expect(second.choices[0]?.finish_reason).toBe('length');
    expect(second.choices[0]?.message.tool_calls).toBeUndefined();
    expect(second.choices[0]?.message.content?.length).toBeGreaterThan(0);
  });

  it('streams the tool call as deltas the SDK assembles, then the answer', async () => {
    const sync = await client.chat.completions.create({ model, messages: question, tools: [weather], tool_choice: 'required', temperature: 0 });
    const stream = client.chat.completions.stream({
      model,
      messages: question,
      tools: [weather],
      tool_choice: 'required',
      temperature: 0,
      stream_options: { include_usage: true },
    });
    let argumentFragments = 0;
    stream.on('tool_calls.function.arguments.delta', () => {
      argumentFragments++;
    });
    const final = await stream.finalChatCompletion();
    expect(argumentFragments).toBeGreaterThan(1);
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    const streamedCall = final.choices[0]?.message.tool_calls?.[0];
    const syncCall = sync.choices[0]?.message.tool_calls?.[0];
    if (streamedCall?.type !== 'function' || syncCall?.type !== 'function') throw new Error('no function call');
    expect(streamedCall.function.name).toBe(syncCall.function.name);
    expect(streamedCall.function.arguments).toBe(syncCall.function.arguments);
    expect(streamedCall.id).toBe(syncCall.id);
    expect(final.usage?.completion_tokens).toBeGreaterThan(0);

    // The SDK refuses to auto-parse a `length` finish when a tool is strict; the answer step offers it non-strict.
    const answer = client.chat.completions.stream({
      model,
      tools: [{ type: 'function', function: { ...weather.function, strict: false } }],
      temperature: 0,
      max_tokens: 6,
      messages: [...question, final.choices[0]!.message, { role: 'tool', tool_call_id: streamedCall.id, content: 'sunny' }],
    });
    const done = await answer.finalChatCompletion();
    expect(done.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(done.choices[0]?.finish_reason).toBe('length');
  });

  it('returns logprobs in the SDK types, sync and streamed', async () => {
    const sync = await client.chat.completions.create({ model, messages: question, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = sync.choices[0]?.logprobs?.content ?? [];
    expect(content).toHaveLength(4);
    expect(content.map((t) => t.token).join('')).toBe(sync.choices[0]?.message.content);
    expect(content[0]?.top_logprobs).toHaveLength(3);
    const final = await client.chat.completions
      .stream({ model, messages: question, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 }, { headers: { 'cache-control': 'no-cache' } })
      .finalChatCompletion();
    expect(final.choices[0]?.logprobs?.content).toEqual(content);
  });

  it.skipIf(model === 'zephyr-7b-tgi-messages')('returns n choices in the SDK types, sync and assembled from a stream', async () => {
    const body = { model, messages: question, n: 2, max_tokens: 3, temperature: 0.8, seed: 11 };
    const sync = await client.chat.completions.create(body);
    expect(sync.choices.map((c) => c.index)).toEqual([0, 1]);
    const final = await client.chat.completions.stream(body, { headers: { 'cache-control': 'no-cache' } }).finalChatCompletion();
    expect(final.choices.map((c) => c.message.content)).toEqual(sync.choices.map((c) => c.message.content));
    expect(final.choices.map((c) => c.finish_reason)).toEqual(['length', 'length']);
  });

  it('parses a structured output with zodResponseFormat', async () => {
    const Event = z.object({ name: z.string(), day: z.enum(['mon', 'tue']), attendees: z.array(z.string()) });
    const parsed = await client.chat.completions.parse({
      model,
      messages: [{ role: 'user', content: 'Plan an event.' }],
      response_format: zodResponseFormat(Event, 'event'),
      temperature: 0,
    });
    const event = parsed.choices[0]?.message.parsed;
    expect(Event.safeParse(event).success).toBe(true);
  });
});

describe('legacy completions with integer logprobs and n (vLLM)', () => {
  it('returns them in the SDK types', async () => {
    const res = await client.completions.create({
      model: 'llama-3.1-8b-base-vllm',
      prompt: 'Once upon a time',
      max_tokens: 3,
      logprobs: 2,
      n: 2,
      temperature: 0.6,
      seed: 2,
    });
    expect(res.choices).toHaveLength(2);
    for (const c of res.choices) {
      expect(c.logprobs?.tokens?.join('')).toBe(c.text);
      expect(c.logprobs?.token_logprobs).toHaveLength(3);
    }
    const refused = await client.completions.create({ model: 'llama-3.1-8b-base-vllm', prompt: 'x', echo: true }).catch((e: unknown) => e);
    expect((refused as APIError).message).toContain('echo');
  });
});

describe('OpenAPI', () => {
  it('documents tools, tool calls, response formats and capabilities in a valid 3.1 document', async () => {
    const doc = (await (await fetch(`${stack.gatewayUrl}/openapi.json`)).json()) as {
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    const schemas = doc.components.schemas;
    for (const id of ['FunctionTool', 'ToolChoice', 'ToolCall', 'ResponseFormat', 'ModelCapabilities']) expect(schemas).toHaveProperty(id);
    expect(Object.keys(schemas.ChatCompletionRequest?.properties ?? {})).toEqual(
      expect.arrayContaining(['tools', 'tool_choice', 'parallel_tool_calls', 'response_format']),
    );
  });
});

describe('structured outputs on TGI generate (SageMaker), through its grammar', () => {
  it('parses a zodResponseFormat answer', async () => {
    const Point = z.object({ x: z.number(), y: z.number(), label: z.string() });
    const parsed = await client.chat.completions.parse({
      model: LOCAL_MODEL,
      messages: [{ role: 'user', content: 'A point, please.' }],
      response_format: zodResponseFormat(Point, 'point'),
    });
    expect(Point.safeParse(parsed.choices[0]?.message.parsed).success).toBe(true);
  });
});

describe('capabilities', () => {
  it('lists each model with its capabilities', async () => {
    const res = await fetch(`${stack.gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${client.apiKey}` } });
    const body = (await res.json()) as { data: { id: string; capabilities: { tools: boolean; json_schema: boolean; max_n: number } }[] };
    const byId = new Map(body.data.map((m) => [m.id, m.capabilities]));
    expect(byId.get('llama-3.1-8b-vllm')).toMatchObject({ tools: true, json_schema: true, logprobs: true, max_n: 4 });
    expect(byId.get(LOCAL_MODEL)).toMatchObject({ tools: false, json_schema: true, logprobs: false });
    expect(byId.get('custom-7b-json')).toMatchObject({ tools: false, json_schema: false, vision: false, max_n: 1 });
  });

  it('refuses tools on a model without them, naming the parameter and the model', async () => {
    const err = await client.chat.completions.create({ model: LOCAL_MODEL, messages: question, tools: [weather] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as APIError).message).toContain('tools');
    expect((err as APIError).message).toContain(LOCAL_MODEL);
  });
});

describe('coalescing of tool-call streams (vLLM)', () => {
  it('serves two identical streamed tool calls in flight together with one backend call, the follower getting the same deltas', async () => {
    // Slow enough that the second request arrives while the first is still streaming.
    const { ttftMs, perTokenMs } = stack.modelServer.config();
    stack.modelServer.setConfig({ ttftMs: 300, perTokenMs: 30 });
    try {
      const body = {
        model: 'llama-3.1-8b-vllm',
        messages: [{ role: 'user' as const, content: `What is the weather in Oslo? Call get_weather. ${Date.now()}` }],
        tools: [weather],
        tool_choice: 'required' as const,
        temperature: 0,
        stream: true as const,
      };
      const before = stack.modelServer.stats().totals.invocations;
      const leading = client.chat.completions.create(body).withResponse();
      // The leader's call reached the model (so its flight is there to follow), not a fixed wait.
      await vi.waitUntil(() => stack.modelServer.stats().totals.invocations > before, { timeout: 10_000, interval: 10 });
      const following = await client.chat.completions.create(body).withResponse();
      const lead = await leading;
      expect(lead.response.headers.get('x-cache')).toBe('MISS');
      expect([following.response.headers.get('x-cache'), following.response.headers.get('x-cache-tier')]).toEqual(['HIT', 'COALESCED']);
      const deltasOf = async (stream: AsyncIterable<OpenAI.ChatCompletionChunk>) => {
        const out: unknown[] = [];
        const finish: (string | null)[] = [];
        for await (const chunk of stream)
          for (const choice of chunk.choices) {
            out.push(...(choice.delta.tool_calls ?? []));
            if (choice.finish_reason) finish.push(choice.finish_reason);
          }
        return { out, finish };
      };
      const [led, followed] = await Promise.all([deltasOf(lead.data), deltasOf(following.data)]);
      expect(led.out.length).toBeGreaterThan(2);
      expect(followed.out).toEqual(led.out);
      expect([led.finish, followed.finish]).toEqual([['tool_calls'], ['tool_calls']]);
      expect(stack.modelServer.stats().totals.invocations - before).toBe(1);
    } finally {
      stack.modelServer.setConfig({ ttftMs, perTokenMs });
    }
  });
});
