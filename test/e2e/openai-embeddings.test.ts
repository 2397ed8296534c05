/**
 * The official `openai` npm client, unchanged, against `npm start`'s stack: `embeddings.create`
 * for a string and an array, in float and in the SDK's default base64 (which it decodes: the
 * vectors equal the float ones), on the TEI model behind the SageMaker adapter and the vLLM model
 * behind the ECS adapter; `dimensions`, the models' capabilities, and a refusal surfaced as the
 * SDK's BadRequestError.
 */
import OpenAI, { BadRequestError } from 'openai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingVector } from '../../tools/model-server/embeddings';
import { LOCAL_EMBEDDING_MODELS, startStack, type Stack } from '../../tools/stack/stack';

let stack: Stack;
let stateDir: string;
let client: OpenAI;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gw-openai-embed-'));
  stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir });
  client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

const MODELS = Object.keys(LOCAL_EMBEDDING_MODELS);

describe.each(MODELS)('openai client → embeddings of %s', (model) => {
  it('embeds a string and an array; the default base64 decodes to the float vectors', async () => {
    const texts = [`Embeddings through the gateway ${Date.now()}`, 'a second input'];
    const floats = await client.embeddings.create({ model, input: texts, encoding_format: 'float' });
    expect(floats.object).toBe('list');
    expect(floats.model).toBe(model);
    expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
    // The model server's deterministic vectors, as float32.
    expect(floats.data.map((d) => d.embedding)).toEqual(texts.map((t) => embeddingVector(t, 384)));
    expect(floats.usage.prompt_tokens).toBeGreaterThan(0);
    expect(floats.usage.total_tokens).toBe(floats.usage.prompt_tokens);

    const decoded = await client.embeddings.create({ model, input: texts });
    expect(decoded.data.map((d) => d.embedding)).toEqual(floats.data.map((d) => d.embedding));
    const single = await client.embeddings.create({ model, input: texts[0]! });
    expect(single.data).toHaveLength(1);
    expect(single.data[0]!.embedding).toEqual(floats.data[0]!.embedding);
  });
});

describe('openai client → embeddings options and errors', () => {
  it('shortens vectors where the model supports dimensions', async () => {
    const res = await client.embeddings.create({ model: 'e5-small-vllm', input: 'short', dimensions: 64 });
    expect(res.data[0]!.embedding).toEqual(embeddingVector('short', 384, 64));
  });

  it('lists the embeddings models with their capabilities', async () => {
    const models = await client.models.list();
    const tei = models.data.find((m) => m.id === 'bge-small-en-tei') as unknown as { capabilities: Record<string, unknown> };
    expect(tei.capabilities).toMatchObject({ embeddings: true, chat: false, dimensions: 384 });
  });

  it('surfaces a refusal as BadRequestError naming the model', async () => {
    const err = await client.embeddings.create({ model: stack.model, input: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).message).toContain(stack.model);
  });
});
