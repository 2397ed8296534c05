/**
 * Chat logprobs in workerd against the real stack: `choices[].logprobs.content[]` with
 * `top_logprobs`, one entry per streamed chunk, replayed from the cache as they came; refused with a
 * 400 naming it on a model without the capability, on `/v1/completions`, and as `top_logprobs`
 * without `logprobs`.
 */
import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { SseParser } from '../../shared/sse';
import { modelReset } from '../testing/gateway-client';

const apiKey = inject('apiKey');
const textModel = inject('model');
const model = 'llama-3.1-8b-vllm';

afterEach(async () => {
  await modelReset();
});

const post = (path: string, body: unknown) =>
  SELF.fetch(`https://gateway.test${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
type Entry = { token: string; logprob: number; bytes: number[]; top_logprobs: { token: string; logprob: number }[] };
type Choice = { delta?: { content?: string }; message?: { content: string }; logprobs: { content: Entry[] } | null };
const ask = () => [{ role: 'user', content: `Say something ${crypto.randomUUID()}` }];

async function chunks(res: Response): Promise<{ choices: Choice[] }[]> {
  const parser = new SseParser();
  return [...parser.push(await res.text()), ...parser.end()].filter((m) => m.data !== '[DONE]').map((m) => JSON.parse(m.data) as { choices: Choice[] });
}

describe('chat logprobs', () => {
  it('answers each token with its logprob, bytes and top_logprobs', async () => {
    const res = await post('/v1/chat/completions', { model, messages: ask(), max_tokens: 6, logprobs: true, top_logprobs: 2 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Choice[]; usage: { completion_tokens: number } };
    const content = body.choices[0]!.logprobs!.content;
    expect(content).toHaveLength(body.usage.completion_tokens);
    expect(content.map((e) => e.token).join('')).toBe(body.choices[0]!.message!.content);
    for (const e of content) {
      expect(e.logprob).toBeLessThanOrEqual(0);
      expect(e.bytes).toEqual([...new TextEncoder().encode(e.token)]);
      expect(e.top_logprobs).toHaveLength(2);
    }
    const plain = (await (await post('/v1/chat/completions', { model, messages: ask(), max_tokens: 2 })).json()) as { choices: Choice[] };
    expect(plain.choices[0]!.logprobs).toBeNull();
  });

  it('streams logprobs per chunk and replays them from the cache as they came', async () => {
    const body = { model, messages: ask(), max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 1, stream: true };
    const first = await post('/v1/chat/completions', body);
    const live = await chunks(first);
    const content = live.flatMap((c) => c.choices).filter((c) => c.delta?.content);
    expect(content.length).toBe(5);
    for (const c of content) expect(c.logprobs?.content.map((e) => e.token).join('')).toBe(c.delta?.content);
    const again = await post('/v1/chat/completions', body);
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect((await chunks(again)).map((c) => JSON.stringify(c.choices))).toEqual(live.map((c) => JSON.stringify(c.choices)));
    // The key covers logprobs: the same request without them misses.
    const { logprobs: _, top_logprobs: __, ...plain } = body;
    const miss = await post('/v1/chat/completions', plain);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    await miss.text();
  });

  it('refuses logprobs on a model without them, top_logprobs alone, and logprobs on /v1/completions, naming them', async () => {
    const noCap = await post('/v1/chat/completions', { model: textModel, messages: ask(), logprobs: true });
    expect(noCap.status).toBe(400);
    const message = ((await noCap.json()) as { error: { message: string } }).error.message;
    expect(message).toContain('logprobs');
    expect(message).toContain(textModel);
    const alone = await post('/v1/chat/completions', { model, messages: ask(), top_logprobs: 2 });
    expect(alone.status).toBe(400);
    expect(((await alone.json()) as { error: { details: { issues: { path: string }[] } } }).error.details.issues[0]?.path).toBe('top_logprobs');
    const legacy = await post('/v1/completions', { model: 'llama-3.1-8b-base-vllm', prompt: 'hi', echo: true, best_of: 2 });
    expect(legacy.status).toBe(400);
    expect(((await legacy.json()) as { error: { message: string } }).error.message).toContain('echo, best_of');
  });
});

describe('legacy completions logprobs and n', () => {
  const base = 'llama-3.1-8b-base-vllm';
  type Legacy = { tokens: string[]; token_logprobs: number[]; top_logprobs: Record<string, number>[]; text_offset: number[] };
  type LegacyChoice = { index: number; text: string; logprobs: Legacy | null; finish_reason: string | null };

  it('answers the integer logprobs form for each of n choices', async () => {
    const res = await post('/v1/completions', {
      model: base,
      prompt: `Once ${crypto.randomUUID()}`,
      max_tokens: 3,
      logprobs: 2,
      n: 2,
      temperature: 0.5,
      seed: 1,
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: LegacyChoice[]; usage: { completion_tokens: number } };
    expect(body.choices.map((c) => c.index)).toEqual([0, 1]);
    for (const c of body.choices) {
      expect(c.logprobs?.tokens.join('')).toBe(c.text);
      expect(c.logprobs?.token_logprobs).toHaveLength(3);
      expect(Object.keys(c.logprobs?.top_logprobs[0] ?? {}).length).toBeGreaterThan(0);
      expect(c.logprobs?.text_offset[0]).toBe(0);
    }
    expect(body.usage.completion_tokens).toBe(6);
  });

  it('streams them per chunk with running text offsets', async () => {
    const res = await post('/v1/completions', { model: base, prompt: `Twice ${crypto.randomUUID()}`, max_tokens: 3, logprobs: 1, stream: true });
    const choices = (await chunks(res)).flatMap((c) => c.choices as unknown as LegacyChoice[]).filter((c) => c.text !== '');
    let at = 0;
    for (const c of choices) {
      expect(c.logprobs?.text_offset[0]).toBe(at);
      at += c.text.length;
    }
    expect(choices).toHaveLength(3);
  });
});
