/**
 * `n` on `/v1/chat/completions` in workerd against the real stack: several choices whole and
 * streamed (each with its index and finish reason), capped by the model's `max_n` and the plan's,
 * reserved as n × max_tokens, and cached under a key that covers `n`.
 */
import { describe, expect, inject, it } from 'vitest';
import { estimateTokens } from '../../shared/tokens';
import { post, sseMessages } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';

const model = 'llama-3.1-8b-vllm';
const textModel = inject('model');
type Choice = { index: number; message?: { role: string; content: string }; delta?: { role?: string; content?: string }; finish_reason: string | null };
const ask = () => [{ role: 'user', content: `Several answers ${crypto.randomUUID()}` }];

describe('n choices', () => {
  it('answers n choices whole, each with its index, and usage over all of them', async () => {
    const { key } = await seedTenantKey({ plan: 'pro' });
    const res = await post('/v1/chat/completions', key, { model, messages: ask(), n: 3, max_tokens: 4, temperature: 0.9, seed: 7 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { choices: Choice[]; usage: { completion_tokens: number } };
    expect(body.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(body.choices.every((c) => c.message?.content && c.finish_reason === 'length')).toBe(true);
    expect(new Set(body.choices.map((c) => c.message?.content)).size).toBe(3);
    expect(body.usage.completion_tokens).toBe(12);
  });

  it('streams every choice with its role, tokens and finish reason, and replays it from the cache', async () => {
    const { key } = await seedTenantKey({ plan: 'pro' });
    const body = { model, messages: ask(), n: 2, max_tokens: 3, temperature: 0.7, seed: 3, stream: true };
    const read = async (res: Response) =>
      (await sseMessages(res)).filter((m) => m.data !== '[DONE]').flatMap((m) => (JSON.parse(m.data) as { choices: Choice[] }).choices);
    const first = await post('/v1/chat/completions', key, body);
    expect(first.headers.get('x-cache')).toBe('MISS');
    const live = await read(first);
    for (const index of [0, 1]) {
      const mine = live.filter((c) => c.index === index);
      expect(mine[0]?.delta?.role).toBe('assistant');
      expect(mine.filter((c) => c.delta?.content).length).toBe(3);
      expect(mine.at(-1)?.finish_reason).toBe('length');
    }
    const sync = (await (await post('/v1/chat/completions', key, { ...body, stream: false })).json()) as { choices: Choice[] };
    for (const index of [0, 1]) {
      const text = live
        .filter((c) => c.index === index)
        .map((c) => c.delta?.content ?? '')
        .join('');
      expect(sync.choices[index]?.message?.content).toBe(text);
    }
    const again = await post('/v1/chat/completions', key, body);
    expect(again.headers.get('x-cache')).toBe('HIT');
    expect((await read(again)).map((c) => JSON.stringify(c))).toEqual(live.map((c) => JSON.stringify(c)));
    const other = await post('/v1/chat/completions', key, { ...body, n: 3 });
    expect(other.headers.get('x-cache')).toBe('MISS');
    await other.text();
  });

  it("caps n at the model's max_n and the plan's, naming n", async () => {
    const free = await seedTenantKey({ plan: 'free' });
    const onFree = await post('/v1/chat/completions', free.key, { model, messages: ask(), n: 2 });
    expect(onFree.status).toBe(400);
    expect(((await onFree.json()) as { error: { message: string } }).error.message).toContain('n: at most 1');
    const enterprise = await seedTenantKey({ plan: 'enterprise' });
    const overModel = await post('/v1/chat/completions', enterprise.key, { model, messages: ask(), n: 5 });
    expect(((await overModel.json()) as { error: { details: { max_n: number } } }).error.details.max_n).toBe(4);
    const textOnly = await post('/v1/chat/completions', enterprise.key, { model: textModel, messages: ask(), n: 2 });
    expect(textOnly.status).toBe(400);
    const overridden = await seedTenantKey({ plan: 'free', overrides: { maxN: 2 } });
    expect((await post('/v1/chat/completions', overridden.key, { model, messages: ask(), n: 2, max_tokens: 2 })).status).toBe(200);
  });

  it('reserves n × max_tokens beside the prompt', async () => {
    const { key } = await seedTenantKey({ plan: 'pro', overrides: { tokensPerMinute: 100_000 } });
    const messages = ask();
    const res = await post('/v1/chat/completions', key, { model, messages, n: 4, max_tokens: 25 });
    expect(res.status).toBe(200);
    expect(100_000 - Number(res.headers.get('x-tokenlimit-remaining'))).toBe(estimateTokens(messages[0]!.content) + 4 * 25);
  });
});
