import OpenAI, { APIError, AuthenticationError, BadRequestError, NotFoundError } from 'openai';
import { type ClientStack, startClientStack } from './client-stack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Stack } from '../../tools/stack/stack';

let stack: Stack;
let client: OpenAI;
let running: ClientStack | undefined;

beforeAll(async () => {
  running = await startClientStack('oai', 'OpenAI client test');
  ({ stack, client } = running);
}, 120_000);

afterAll(async () => {
  await running?.stop();
});

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Name three colours.' },
];

describe('openai client → gateway', () => {
  it('completes a chat request', async () => {
    const completion = await client.chat.completions.create({ model: stack.model, messages, max_tokens: 8, temperature: 0 });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message.role).toBe('assistant');
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBe(8);
    expect(completion.usage?.total_tokens).toBe((completion.usage?.prompt_tokens ?? 0) + 8);
  });

  it('streams a chat request whose text equals the sync answer, with usage when asked', async () => {
    const sync = await client.chat.completions.create({ model: stack.model, messages, max_tokens: 10, temperature: 0 });
    const stream = await client.chat.completions.create({
      model: stack.model,
      messages,
      max_tokens: 10,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(text).toBe(sync.choices[0]?.message.content);
    expect(finish).toBe('length');
    expect(usage?.completion_tokens).toBe(10);
  });

  it('completes and streams a legacy completion', async () => {
    const sync = await client.completions.create({ model: stack.model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0 });
    expect(sync.object).toBe('text_completion');
    const stream = await client.completions.create({ model: stack.model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(sync.choices[0]?.text);
  });

  it('lists the models', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain(stack.model);
  });

  it('surfaces a bad key as AuthenticationError with the gateway message', async () => {
    const bad = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: `gw_test_${'A'.repeat(43)}`, maxRetries: 0 });
    const err = await bad.chat.completions.create({ model: stack.model, messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect((err as APIError).status).toBe(401);
    expect((err as APIError).message).toContain('invalid API key');
    expect((err as APIError).type).toBe('authentication_error');
  });

  it('surfaces an unknown model as NotFoundError and bad input as BadRequestError', async () => {
    const missing = await client.chat.completions.create({ model: 'no-such-model', messages }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(NotFoundError);
    const bad = await client.chat.completions.create({ model: stack.model, messages, n: 2 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(BadRequestError);
    expect((bad as APIError).message).toMatch(/n: at most 1/);
  });

  it('surfaces a backend outage as a 503 APIError, sync and streaming', async () => {
    stack.modelServer.setConfig({ forcedStatus: 503 });
    try {
      const sync = await client.chat.completions.create({ model: stack.model, messages }).catch((e: unknown) => e);
      expect(sync).toBeInstanceOf(APIError);
      expect((sync as APIError).status).toBe(503);
      const streamed = await client.chat.completions.create({ model: stack.model, messages, stream: true }).catch((e: unknown) => e);
      expect((streamed as APIError).status).toBe(503);
    } finally {
      stack.modelServer.reset();
    }
  });

  it('ends a stream cut mid-way with an APIError from the iterator, not a hang', async () => {
    stack.modelServer.setConfig({ streamCutAfter: 3 });
    try {
      const stream = await client.chat.completions.create({ model: stack.model, messages, max_tokens: 20, stream: true });
      let text = '';
      const err = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
      expect(text.length).toBeGreaterThan(0);
    } finally {
      stack.modelServer.reset();
    }
  });
});
