/**
 * `POST /v1/embeddings` through the worker in workerd against the local stack (a TEI model behind
 * the SageMaker adapter, a vLLM model behind the ECS adapter, both answered by the model server):
 * the OpenAI shape in float and base64, usage as the backend counted it and the token windows
 * settled to it, `dimensions`, the models' capabilities, refusals naming the field or the cap, and
 * the per-input cache (90 of 100 inputs cached: 10 go to the backend, all 100 answered in order).
 */
import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import { type EmbeddingList, EmbeddingListSchema, MAX_EMBEDDING_INPUTS } from '../../shared/contracts/embeddings';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { decodeBase64, routeStats, TEI_MODEL, VLLM_MODEL, vectorsOf } from '../testing/embeddings';
import { BASE, bridgeQuiet, eventually, modelReset, post } from '../testing/gateway-client';
import { seedTenantKey, store } from '../testing/seed';

afterEach(async () => {
  await modelReset();
});

const word = () => `w${crypto.randomUUID().replaceAll('-', '')}`;
const embed = (key: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => post('/v1/embeddings', key, body, headers);
const errorOf = async (res: Response) => ErrorEnvelopeSchema.parse(await res.json()).error;
const ROUTES = { [TEI_MODEL]: 'sagemaker.embeddings', [VLLM_MODEL]: 'openai.embeddings' };

describe.each([TEI_MODEL, VLLM_MODEL] as const)('POST /v1/embeddings on %s', (model) => {
  it('answers the OpenAI list shape with unit vectors and the backend token count', async () => {
    const { key } = await seedTenantKey();
    const before = await routeStats(ROUTES[model]);
    const input = [`the quick brown fox ${word()}`, `jumps ${word()}`];
    const res = await embed(key, { model, input, encoding_format: 'float' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('MISS');
    expect(res.headers.get('server-timing')).toContain('cache;desc="MISS"');
    const body = EmbeddingListSchema.parse(await res.json());
    expect(body).toMatchObject({
      object: 'list',
      model,
      data: [
        { object: 'embedding', index: 0 },
        { object: 'embedding', index: 1 },
      ],
    });
    for (const d of body.data) {
      expect(d.embedding).toHaveLength(384);
      expect(Math.hypot(...(d.embedding as number[]))).toBeCloseTo(1, 5);
    }
    const after = await routeStats(ROUTES[model]);
    expect(after.invocations - before.invocations).toBe(1);
    // The model server counts 5 + 2 tokens; the edge's estimate was higher.
    expect(body.usage).toEqual({ prompt_tokens: after.promptTokens - before.promptTokens, total_tokens: after.promptTokens - before.promptTokens });
    expect(body.usage.prompt_tokens).toBe(7);
  });

  it('answers base64 that decodes to the float vectors, a single string as one embedding, float by default', async () => {
    const { key } = await seedTenantKey();
    const input = `base64 check ${word()}`;
    const floats = await vectorsOf(await embed(key, { model, input: [input], encoding_format: 'float' }));
    const res = await embed(key, { model, input, encoding_format: 'base64' });
    const body = (await res.json()) as EmbeddingList;
    expect(body.data).toHaveLength(1);
    expect(typeof body.data[0]!.embedding).toBe('string');
    expect(decodeBase64(body.data[0]!.embedding as string)).toEqual(floats[0]);
    expect(await vectorsOf(await embed(key, { model, input }))).toEqual(floats);
  });

  it('embeds token arrays, and refuses ids outside the vocabulary naming the position', async () => {
    const { key } = await seedTenantKey();
    const ok = await embed(key, { model, input: [[101, 7592, 102], [5]], encoding_format: 'float' });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as EmbeddingList).usage.prompt_tokens).toBe(4);
    const negative = await embed(key, { model, input: [[1], [2, -3]] });
    expect(negative.status).toBe(400);
    expect(await errorOf(negative)).toMatchObject({ code: 'INVALID_INPUT', details: { issues: [{ path: 'input[1][1]' }] } });
    const big = await embed(key, { model, input: [5, 300_000] });
    expect(big.status).toBe(400);
    expect((await errorOf(big)).message).toContain('input[1]: token ids are non-negative integers below');
  });
});

describe('POST /v1/embeddings refusals', () => {
  it.each([
    ['an empty string', { input: '' }, 'input'],
    ['an empty list', { input: [] }, 'input'],
    ['a number', { input: 5 }, 'input'],
    ['mixed types', { input: ['a', 1] }, 'input'],
    ['a wrong encoding_format', { input: 'a', encoding_format: 'int8' }, 'encoding_format'],
    ['no model', { input: 'a', model: undefined }, 'model'],
  ])('refuses %s with 400 naming the field', async (_name, body, field) => {
    const { key } = await seedTenantKey();
    const res = await embed(key, { model: TEI_MODEL, ...body });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe('INVALID_INPUT');
    expect(JSON.stringify(error.details)).toContain(`"path":"${field}`);
  });

  it('refuses inputs over the caps, naming the cap', async () => {
    const { key } = await seedTenantKey();
    const many = await embed(key, { model: TEI_MODEL, input: Array.from({ length: MAX_EMBEDDING_INPUTS + 1 }, () => 'x') });
    expect(many.status).toBe(400);
    expect(await errorOf(many)).toMatchObject({ details: { max_inputs: MAX_EMBEDDING_INPUTS, issues: [{ path: 'input' }] } });
    const long = await embed(key, { model: TEI_MODEL, input: ['ok', 'x'.repeat(32_769)] });
    expect(long.status).toBe(400);
    expect(await errorOf(long)).toMatchObject({ details: { max_input_chars: 32_768, issues: [{ path: 'input[1]' }] } });
    const overContext = await embed(key, { model: TEI_MODEL, input: ['y '.repeat(1_100)] });
    expect(overContext.status).toBe(400);
    expect(await errorOf(overContext)).toMatchObject({ details: { max_input_tokens: 512 } });
    const total = await embed(key, { model: TEI_MODEL, input: Array.from({ length: 2_048 }, () => Array<number>(150).fill(1)) });
    expect(total.status).toBe(413);
    expect(await errorOf(total)).toMatchObject({ details: { max_request_tokens: 300_000, issues: [{ path: 'input' }] } });
  });

  it('gives dimensions only where the model shortens its vectors', async () => {
    const { key } = await seedTenantKey();
    const short = await embed(key, { model: VLLM_MODEL, input: word(), dimensions: 64, encoding_format: 'float' });
    expect(short.status).toBe(200);
    expect((await vectorsOf(short))[0]).toHaveLength(64);
    for (const [model, dimensions] of [
      [TEI_MODEL, 64],
      [VLLM_MODEL, 385],
    ] as const) {
      const res = await embed(key, { model, input: 'a', dimensions });
      expect(res.status).toBe(400);
      expect(await errorOf(res)).toMatchObject({ details: { issues: [{ path: 'dimensions' }] } });
    }
  });

  it('refuses embeddings of a chat model and chat of an embeddings model, naming the model', async () => {
    const { key } = await seedTenantKey();
    const chatModel = 'llama-3.1-8b-instruct';
    const embedChat = await embed(key, { model: chatModel, input: 'a' });
    expect(embedChat.status).toBe(400);
    expect(await errorOf(embedChat)).toMatchObject({ code: 'INVALID_INPUT', details: { model: chatModel } });
    const chatEmbed = await post('/v1/chat/completions', key, { model: TEI_MODEL, messages: [{ role: 'user', content: 'hi' }] });
    expect(chatEmbed.status).toBe(400);
    expect(await errorOf(chatEmbed)).toMatchObject({ code: 'INVALID_INPUT', details: { model: TEI_MODEL } });
    expect((await embed(key, { model: 'no-such-model', input: 'a' })).status).toBe(404);
  });
});

describe('GET /v1/models', () => {
  it('tells embeddings models and their dimensions from chat models', async () => {
    const { key } = await seedTenantKey();
    const res = await SELF.fetch(`${BASE}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
    const list = (await res.json()) as { data: { id: string; capabilities: Record<string, unknown> }[] };
    const byId = Object.fromEntries(list.data.map((m) => [m.id, m.capabilities]));
    // Beside the kind, every model states what it can do beyond text (none of it, for an embeddings model).
    const none = { tools: false, json_schema: false, logprobs: false, vision: false, max_n: 1 };
    expect(byId[TEI_MODEL]).toEqual({ ...none, chat: false, embeddings: true, dimensions: 384, shortenable_dimensions: false });
    expect(byId[VLLM_MODEL]).toEqual({ ...none, chat: false, embeddings: true, dimensions: 384, shortenable_dimensions: true });
    expect(byId['llama-3.1-8b-instruct']).toMatchObject({ chat: true, embeddings: false, tools: false, json_schema: true });
  });
});

describe('per-input cache', () => {
  it('sends only the 10 uncached of 100 inputs to the backend and answers all 100 in order', async () => {
    const { key } = await seedTenantKey();
    const inputs = Array.from({ length: 100 }, () => word());
    const cachedFirst = await vectorsOf(await embed(key, { model: TEI_MODEL, input: inputs.slice(0, 90), encoding_format: 'float' }));
    const before = await routeStats('sagemaker.embeddings');
    const res = await embed(key, { model: TEI_MODEL, input: inputs, encoding_format: 'float' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('PARTIAL');
    expect(res.headers.get('x-cache-hits')).toBe('90/100');
    expect(res.headers.get('server-timing')).toContain('cache;desc="PARTIAL"');
    const body = (await res.json()) as EmbeddingList;
    const after = await routeStats('sagemaker.embeddings');
    // Each word is one token to the model server: 10 tokens means exactly 10 inputs were sent.
    expect(after.promptTokens - before.promptTokens).toBe(10);
    expect(body.data.map((d) => d.index)).toEqual(inputs.map((_, i) => i));
    expect(body.data.slice(0, 90).map((d) => d.embedding)).toEqual(cachedFirst);
    const fresh = await vectorsOf(await embed(key, { model: TEI_MODEL, input: inputs.slice(90), encoding_format: 'float' }, { 'cache-control': 'no-cache' }));
    expect(body.data.slice(90).map((d) => d.embedding)).toEqual(fresh);
    expect(body.usage.prompt_tokens).toBe(100);
    const hit = await embed(key, { model: TEI_MODEL, input: inputs, encoding_format: 'float' });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect((await routeStats('sagemaker.embeddings')).invocations).toBe(after.invocations + 1);
  });

  it('keeps tenants apart', async () => {
    const [a, b] = [await seedTenantKey(), await seedTenantKey()];
    const input = [word()];
    expect((await embed(a.key, { model: VLLM_MODEL, input })).headers.get('x-cache')).toBe('MISS');
    expect((await embed(b.key, { model: VLLM_MODEL, input })).headers.get('x-cache')).toBe('MISS');
    expect((await embed(a.key, { model: VLLM_MODEL, input })).headers.get('x-cache')).toBe('HIT');
  });
});

describe('limits', () => {
  it('counts one request and settles the token windows to the backend count', async () => {
    const { key, tenant } = await seedTenantKey({ overrides: { tokensPerDay: 100_000 } });
    const input = ['settle these tokens please', `and ${word()}`];
    const res = await embed(key, { model: VLLM_MODEL, input });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('599');
    // Reserved the estimate (26 bytes → 7, 37 bytes → 10), settled to the model server's 4 + 2.
    expect(100_000 - Number(res.headers.get('x-tokenlimit-remaining'))).toBe(17);
    const used = ((await res.json()) as EmbeddingList).usage.prompt_tokens;
    expect(used).toBe(6);
    const day = await eventually(
      async () => {
        await bridgeQuiet();
        const keys = await store.keys(`gw:rl:tokens:day:${tenant.tenantId}:*`);
        return Promise.all(keys.map(async (k) => Number(await store.get<number>(k))));
      },
      (counts) => counts[0] === used,
    );
    expect(day).toEqual([used]);
  });
});
