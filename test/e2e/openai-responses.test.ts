import { Validator } from '@seriousme/openapi-schema-validator';
import type OpenAI from 'openai';
import { APIError, BadRequestError, NotFoundError } from 'openai';
import { type ClientStack, startClientStack } from './client-stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_NATIVE_RESPONSES_MODEL, type Stack } from '../../tools/stack/stack';

let stack: Stack;
let client: OpenAI;
let running: ClientStack | undefined;

beforeAll(async () => {
  running = await startClientStack('rsp', 'Responses client test');
  ({ stack, client } = running);
}, 120_000);

afterAll(async () => {
  await running?.stop();
});

const unique = (label: string) => `${label} ${crypto.randomUUID()}`;

describe('openai client → gateway: Responses API', () => {
  it('creates a response', async () => {
    const response = await client.responses.create({ model: stack.model, instructions: 'You are terse.', input: 'Name three colours.', max_output_tokens: 8 });
    expect(response.object).toBe('response');
    expect(response.id).toMatch(/^resp_/);
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details?.reason).toBe('max_output_tokens');
    const message = response.output[0];
    expect(message?.type).toBe('message');
    expect(message?.type === 'message' && message.content[0]?.type).toBe('output_text');
    expect(response.output_text.length).toBeGreaterThan(0);
    expect(response.usage?.output_tokens).toBe(8);
    expect(response.usage?.total_tokens).toBe((response.usage?.input_tokens ?? 0) + 8);
  });

  it('streams the SDK events in order, with the text of the sync answer', async () => {
    const input = unique('Stream me');
    const stream = await client.responses.create({ model: stack.model, input, max_output_tokens: 10, temperature: 0, stream: true });
    const types: string[] = [];
    const sequence: number[] = [];
    let text = '';
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    const deltas = types.filter((t) => t === 'response.output_text.delta').length;
    console.warn(`SDK stream: ${types.length} events (${deltas} deltas)`);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array<string>(deltas).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(deltas).toBeGreaterThan(2);
    expect(sequence).toEqual(types.map((_, i) => i));
    // The same request, sync: answered from the cache entry the stream left, with the same text.
    const sync = await client.responses.create({ model: stack.model, input, max_output_tokens: 10, temperature: 0 });
    expect(text).toBe(sync.output_text);
    expect(completed?.usage?.output_tokens).toBe(10);
  });

  it('assembles the final response with the stream helper', async () => {
    const snapshots: string[] = [];
    const stream = client.responses.stream({ model: stack.model, input: unique('Helper'), max_output_tokens: 6 });
    stream.on('response.output_text.delta', (event) => snapshots.push(event.snapshot));
    const final = await stream.finalResponse();
    expect(final.id).toMatch(/^resp_/);
    expect(final.output_text.length).toBeGreaterThan(0);
    expect(snapshots.at(-1)).toBe(final.output_text);
    expect(final.usage?.output_tokens).toBe(6);
    // The streamed answer was stored before the stream ended.
    expect((await client.responses.retrieve(final.id)).output_text).toBe(final.output_text);
  });

  it('continues a conversation with previous_response_id', async () => {
    const question = unique('What is a gateway?');
    const first = await client.responses.create({ model: stack.model, input: question, max_output_tokens: 5, temperature: 0 });
    const second = await client.responses.create({
      model: stack.model,
      input: [{ role: 'user', content: 'Say more.' }],
      previous_response_id: first.id,
      max_output_tokens: 7,
      temperature: 0,
    });
    expect(second.previous_response_id).toBe(first.id);
    const chat = await client.chat.completions.create({
      model: stack.model,
      messages: [
        { role: 'user', content: question },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'Say more.' },
      ],
      max_tokens: 7,
      temperature: 0,
    });
    expect(second.output_text).toBe(chat.choices[0]?.message.content);
    expect(second.usage?.input_tokens).toBe(chat.usage?.prompt_tokens);
  });

  it('retrieves and deletes a stored response', async () => {
    const created = await client.responses.create({ model: stack.model, input: unique('Keep me'), max_output_tokens: 3, metadata: { run: 'e2e' } });
    const retrieved = await client.responses.retrieve(created.id);
    expect(retrieved.id).toBe(created.id);
    expect(retrieved.output_text).toBe(created.output_text);
    expect(retrieved.metadata).toEqual({ run: 'e2e' });
    await client.responses.delete(created.id);
    const gone = await client.responses.retrieve(created.id).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(NotFoundError);
    const unknown = await client.responses.create({ model: stack.model, input: 'x', previous_response_id: created.id }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(NotFoundError);
  });

  it('refuses a function tool on a model without tools with a BadRequestError naming it and the model', async () => {
    const err = await client.responses
      .create({
        model: stack.model,
        input: 'What is the weather in Paris?',
        tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: true }],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as APIError).message).toContain('tools');
    expect((err as APIError).message).toContain(stack.model);
  });

  it('calls a function tool on a natively served model (a function_call output item), sync and with the stream helper', async () => {
    const tools: OpenAI.Responses.Tool[] = [
      { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } }, strict: false },
    ];
    const called = await client.responses.create({
      model: LOCAL_NATIVE_RESPONSES_MODEL,
      input: 'What is the weather in Paris?',
      tools,
      tool_choice: 'required',
    });
    const call = called.output[0];
    expect(call?.type).toBe('function_call');
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    expect(call.name).toBe('get_weather');
    const answer = await client.responses.create({
      model: LOCAL_NATIVE_RESPONSES_MODEL,
      previous_response_id: called.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ sky: 'clear' }) }],
      tools,
      max_output_tokens: 5,
    });
    expect(answer.output[0]?.type).toBe('message');
    expect(answer.output_text.length).toBeGreaterThan(0);

    const deltas: string[] = [];
    const stream = client.responses.stream({
      model: LOCAL_NATIVE_RESPONSES_MODEL,
      input: 'Weather in Rome?',
      tools,
      tool_choice: { type: 'function', name: 'get_weather' },
    });
    stream.on('response.function_call_arguments.delta', (e) => deltas.push(e.delta));
    const final = await stream.finalResponse();
    expect(final.output[0]).toMatchObject({ type: 'function_call', name: 'get_weather' });
    expect(deltas.join('')).toBe((final.output[0] as OpenAI.Responses.ResponseFunctionToolCall).arguments);
    expect((await client.responses.retrieve(final.id)).id).toBe(final.id);
  });

  it('rejects finalResponse() when the stream is cut, instead of resolving a partial answer', async () => {
    stack.modelServer.setConfig({ streamCutAfter: 3 });
    try {
      const stream = client.responses.stream({ model: stack.model, input: unique('Cut'), max_output_tokens: 20 });
      const err = await stream.finalResponse().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
    } finally {
      stack.modelServer.reset();
    }
  });
});

/** Models whose route declares tools and json_schema, translated to chat completions: ECS (vLLM) and SageMaker (LMI). */
const TOOL_MODELS = ['llama-3.1-8b-vllm', 'mistral-7b-instruct-lmi'] as const;

const weatherTool: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

describe.each(TOOL_MODELS)('openai client → gateway: Responses function tools on %s (translated)', (model) => {
  it('answers a function_call output item, and a follow-up with its output through previous_response_id gets text', async () => {
    const called = await client.responses.create({ model, input: unique('What is the weather in Paris?'), tools: [weatherTool], tool_choice: 'required' });
    const call = called.output[0];
    if (call?.type !== 'function_call') throw new Error(`expected a function_call item, got ${call?.type}`);
    expect(call).toMatchObject({ name: 'get_weather', status: 'completed' });
    expect(call.call_id.length).toBeGreaterThan(0);
    expect(typeof (JSON.parse(call.arguments) as { city: unknown }).city).toBe('string');
    expect(called.usage?.input_tokens).toBeGreaterThan(0);
    expect(called.usage?.output_tokens).toBeGreaterThan(0);

    const answer = await client.responses.create({
      model,
      previous_response_id: called.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: JSON.stringify({ sky: 'clear' }) }],
      tools: [weatherTool],
      max_output_tokens: 6,
    });
    expect(answer.output.map((item) => item.type)).toEqual(['message']);
    expect(answer.output_text.length).toBeGreaterThan(0);
    expect(answer.previous_response_id).toBe(called.id);
  });

  it('assembles a function call with the stream helper: finalResponse() and the argument deltas agree', async () => {
    const deltas: string[] = [];
    let argumentsDone: string | undefined;
    const stream = client.responses.stream({
      model,
      input: unique('Weather in Rome?'),
      tools: [weatherTool],
      tool_choice: { type: 'function', name: 'get_weather' },
    });
    stream.on('response.function_call_arguments.delta', (e) => deltas.push(e.delta));
    stream.on('response.function_call_arguments.done', (e) => {
      argumentsDone = e.arguments;
    });
    const final = await stream.finalResponse();
    const call = final.output[0];
    if (call?.type !== 'function_call') throw new Error('expected a function_call item');
    expect(call.name).toBe('get_weather');
    expect(deltas.join('')).toBe(call.arguments);
    expect(argumentsDone).toBe(call.arguments);
    // Stored before the stream ended: retrievable, and a follow-up answers the call.
    // (finalResponse() adds the SDK's own `parsed_arguments` to the item.)
    const stored = await client.responses.retrieve(final.id);
    expect(stored.output).toEqual([
      { type: 'function_call', id: call.id, call_id: call.call_id, name: call.name, arguments: call.arguments, status: 'completed' },
    ]);
    const answer = await client.responses.create({
      model,
      previous_response_id: final.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'rain' }],
      max_output_tokens: 6,
    });
    expect(answer.output_text.length).toBeGreaterThan(0);
  });

  it('answers text.format json_schema with output_text that parses and matches the schema', async () => {
    const response = await client.responses.create({
      model,
      input: unique('A city as JSON'),
      text: {
        format: {
          type: 'json_schema',
          name: 'city',
          strict: true,
          schema: {
            type: 'object',
            properties: { name: { type: 'string' }, population: { type: 'integer' } },
            required: ['name', 'population'],
            additionalProperties: false,
          },
        },
      },
    });
    const parsed = JSON.parse(response.output_text) as { name: unknown; population: unknown };
    expect(typeof parsed.name).toBe('string');
    expect(Number.isInteger(parsed.population)).toBe(true);
  });

  it('refuses a function_call_output answering no call with a BadRequestError naming its path', async () => {
    const err = await client.responses
      .create({
        model,
        input: [
          { role: 'user', content: 'hi' },
          { type: 'function_call_output', call_id: 'call_nope', output: 'x' },
        ],
        tools: [weatherTool],
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as APIError).message).toContain('input.1.call_id');
  });
});

describe('OpenAPI', () => {
  it('documents Responses function tools, their output items and text.format in a valid 3.1 document', async () => {
    const doc = (await (await fetch(`${stack.gatewayUrl}/openapi.json`)).json()) as {
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect((await new Validator().validate(doc)).errors ?? []).toEqual([]);
    const schemas = doc.components.schemas;
    for (const id of ['ResponseFunctionTool', 'ResponseFunctionCallItem', 'ResponseFunctionCallOutputItem', 'ResponseOutputFunctionCall', 'ResponseOutputItem'])
      expect(schemas).toHaveProperty(id);
    expect(Object.keys(schemas.ResponseCreateRequest?.properties ?? {})).toEqual(
      expect.arrayContaining(['tools', 'tool_choice', 'parallel_tool_calls', 'text']),
    );
  });
});
