/**
 * The reference model server's emulated tools and structured outputs, through the official client:
 * tool calls whose arguments validate against the function's schema, the tool-choice rules,
 * schema-valid JSON for `json_schema`, and the `schemaViolation` knob.
 */
import { type Schema, Validator } from '@cfworker/json-schema';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startModelServer, type ModelServer } from './server';

let server: ModelServer;
let openai: OpenAI;

beforeAll(async () => {
  server = await startModelServer();
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const parameters = {
  type: 'object',
  properties: {
    city: { type: 'string', minLength: 3 },
    days: { type: 'integer', minimum: 1, maximum: 7 },
    unit: { type: 'string', enum: ['c', 'f'] },
    tags: { type: 'array', items: { type: 'string' }, minItems: 2 },
    where: { $ref: '#/$defs/point' },
  },
  required: ['city', 'days', 'unit', 'tags', 'where'],
  additionalProperties: false,
  $defs: { point: { type: 'object', properties: { lat: { type: 'number' }, lon: { type: 'number' } }, required: ['lat', 'lon'] } },
};
const tools = [
  { type: 'function' as const, function: { name: 'forecast', parameters } },
  { type: 'function' as const, function: { name: 'alerts', parameters: { type: 'object', properties: {} } } },
];
const validator = new Validator(parameters as Schema, '2020-12');
const validate = (value: unknown) => validator.validate(value).valid;

describe('tool calls', () => {
  it('calls the required or named function with arguments valid against its schema', async () => {
    const required = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }], tools, tool_choice: 'required' });
    const call = required.choices[0]?.message.tool_calls?.[0];
    expect(required.choices[0]?.finish_reason).toBe('tool_calls');
    if (call?.type !== 'function') throw new Error('no call');
    expect(call.function.name).toBe('forecast');
    expect(validate(JSON.parse(call.function.arguments))).toBe(true);
    const named = await openai.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      tools,
      tool_choice: { type: 'function', function: { name: 'alerts' } },
    });
    expect(named.choices[0]?.message.tool_calls?.map((c) => c.type === 'function' && c.function.name)).toEqual(['alerts']);
  });

  it('with auto, calls the functions the user names (one unless parallel), and answers text otherwise or after a tool result', async () => {
    const ask = (content: string, extra: Record<string, unknown> = {}) =>
      openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content }], tools, max_tokens: 4, ...extra });
    const both = await ask('use forecast and alerts');
    expect(both.choices[0]?.message.tool_calls?.map((c) => c.type === 'function' && c.function.name)).toEqual(['forecast', 'alerts']);
    const one = await ask('use forecast and alerts', { parallel_tool_calls: false });
    expect(one.choices[0]?.message.tool_calls).toHaveLength(1);
    const text = await ask('tell me a story');
    expect(text.choices[0]?.message.tool_calls).toBeUndefined();
    expect(text.choices[0]?.finish_reason).toBe('length');
  });

  it('streams each call as an opening delta then argument fragments that assemble to the sync arguments', async () => {
    const body = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }], tools, tool_choice: 'required' as const };
    const sync = await openai.chat.completions.create(body);
    const final = await openai.chat.completions.stream(body).finalChatCompletion();
    const a = final.choices[0]?.message.tool_calls?.[0];
    const b = sync.choices[0]?.message.tool_calls?.[0];
    expect(a?.type === 'function' && a.function.arguments).toBe(b?.type === 'function' && b.function.arguments);
  });
});

describe('structured outputs', () => {
  it('answers JSON valid against a json_schema, and violates it with the knob on', async () => {
    const format = { type: 'json_schema' as const, json_schema: { name: 'forecast', schema: parameters, strict: true } };
    const res = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'plan' }], response_format: format });
    expect(validate(JSON.parse(res.choices[0]?.message.content ?? ''))).toBe(true);
    server.setConfig({ schemaViolation: true });
    const bad = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'plan' }], response_format: format });
    expect(validate(JSON.parse(bad.choices[0]?.message.content ?? 'null'))).toBe(false);
    const badCall = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools, tool_choice: 'required' });
    const call = badCall.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && validate(JSON.parse(call.function.arguments))).toBe(false);
  });
});
