import OpenAI, { APIError } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generationFor } from './formats';
import { startModelServer, type ModelServer } from './server';
import { rejectionOf } from './test-support';

let server: ModelServer;
let openai: OpenAI;

beforeAll(async () => {
  server = await startModelServer();
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'x', maxRetries: 0 });
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Name a river.' },
];

describe('OpenAI-compatible API (vLLM)', () => {
  it('answers a chat completion with the deterministic content and usage', async () => {
    const body = { model: 'llama-3-8b', messages, max_tokens: 12, seed: 5 };
    const completion = await openai.chat.completions.create(body);
    const expected = generationFor(body);
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('llama-3-8b');
    expect(completion.choices[0]?.message.content).toBe(expected.text);
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.usage).toEqual({ prompt_tokens: expected.promptTokens, completion_tokens: 12, total_tokens: expected.promptTokens + 12 });
  });

  it('streams chat chunks that add up to the sync answer, then a usage chunk', async () => {
    const body = { model: 'llama-3-8b', messages, max_tokens: 10, seed: 9 };
    const sync = await openai.chat.completions.create(body);
    const stream = await openai.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    let content = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(content).toBe(sync.choices[0]?.message.content);
    expect(finish).toBe('length');
    expect(usage).toEqual(sync.usage);
  });

  it('honours stop sequences: the output ends before the stop and says finish_reason stop', async () => {
    const probe = generationFor({ model: 'm', messages, max_tokens: 16, seed: 2 });
    const stop = probe.tokens[5]?.raw ?? '';
    const body = { model: 'm', messages, max_tokens: 16, seed: 2, stop: [stop] };
    const completion = await openai.chat.completions.create(body);
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.choices[0]?.message.content).toBe(probe.text.slice(0, probe.text.indexOf(stop)));
    expect(completion.usage?.completion_tokens).toBe(generationFor(body).completionTokens);
  });

  it('answers legacy completions, sync and streamed', async () => {
    const body = { model: 'llama-3-8b', prompt: 'The capital of France is', max_tokens: 7 };
    const sync = await openai.completions.create(body);
    expect(sync.choices[0]?.text).toBe(generationFor(body).text);
    const stream = await openai.completions.create({ ...body, stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(sync.choices[0]?.text);
  });

  it('lists the configured model', async () => {
    server.setConfig({ modelName: 'mistral-7b' });
    const models = await openai.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['mistral-7b']);
  });

  it('rejects an invalid request with a 400 BadRequestError', async () => {
    const error = await rejectionOf(openai.chat.completions.create({ model: 'm', messages: [], max_tokens: 5 }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).message).toMatch(/messages/);
  });

  it('rejects a request beyond the context window with 400', async () => {
    server.setConfig({ maxModelLen: 32 });
    const error = await rejectionOf(openai.completions.create({ model: 'm', prompt: 'short', max_tokens: 40 }));
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as APIError).message).toMatch(/maximum context length is 32 tokens/);
  });

  it.each([
    [429, OpenAI.RateLimitError],
    [500, OpenAI.InternalServerError],
    [503, OpenAI.InternalServerError],
  ] as const)('surfaces a forced %i as OpenAI.APIError with that status', async (forcedStatus, ErrorClass) => {
    server.setConfig({ forcedStatus });
    const error = await rejectionOf(openai.chat.completions.create({ model: 'm', messages, max_tokens: 3 }));
    expect(error).toBeInstanceOf(ErrorClass);
    expect((error as APIError).status).toBe(forcedStatus);
    if (forcedStatus !== 500) expect((error as APIError).headers?.get('retry-after')).toBe('1');
  });

  it('fails only the configured model while it is warming, with 503 and Retry-After', async () => {
    server.setConfig({ endpoints: { cold: { warmingForMs: 30_000 } } });
    const error = await rejectionOf(openai.chat.completions.create({ model: 'cold', messages, max_tokens: 3 }));
    expect((error as APIError).status).toBe(503);
    expect(Number((error as APIError).headers?.get('retry-after'))).toBeGreaterThan(25);
    await expect(openai.chat.completions.create({ model: 'warm', messages, max_tokens: 3 })).resolves.toBeDefined();
  });

  it('fails an SSE stream mid-way with an in-band error the client throws as APIError', async () => {
    server.setConfig({ streamCutAfter: 4 });
    const stream = await openai.chat.completions.create({ model: 'm', messages, max_tokens: 12, stream: true });
    let chunks = 0;
    const error = await rejectionOf(
      (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) chunks++;
      })(),
    );
    expect(error).toBeInstanceOf(APIError);
    expect(chunks).toBe(4);
    expect(server.stats().byRoute['openai.chat']).toMatchObject({ streamsCut: 1, tokensGenerated: 4 });
  });

  it('fails an SSE stream by dropping the connection when the cut mode is close', async () => {
    server.setConfig({ streamCutAfter: 2, streamCutMode: 'close', perTokenMs: 10 });
    const stream = await openai.chat.completions.create({ model: 'm', messages, max_tokens: 12, stream: true });
    const error = await rejectionOf(
      (async () => {
        for await (const chunk of stream) void chunk;
      })(),
    );
    expect(error).toBeInstanceOf(Error);
  });
});
