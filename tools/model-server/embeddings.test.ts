/**
 * The reference model server's embedding routes: vLLM's and TEI's `/v1/embeddings`, TEI's `/embed`
 * and a TEI container behind a SageMaker endpoint (the real AWS SDK): deterministic unit vectors of
 * the configured dimension, shortened on request, token counts reported, calls counted per route.
 */
import { InvokeEndpointCommand } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { embeddingVector, inputTokens } from './embeddings';
import { startModelServer, type ModelServer } from './server';
import { jsonBytes, sageMakerClient, text } from './test-support';

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer();
});
afterAll(() => server.close());
beforeEach(() => server.reset());

const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const norm = (v: number[]) => Math.hypot(...v);

describe('embedding vectors', () => {
  it('are deterministic, unit length, float32-exact, and differ between inputs', () => {
    const a = embeddingVector('hello world', 384);
    expect(embeddingVector('hello world', 384)).toEqual(a);
    expect(a).toHaveLength(384);
    expect(norm(a)).toBeCloseTo(1, 5);
    expect(a.every((x) => Math.fround(x) === x)).toBe(true);
    expect(embeddingVector('hello world!', 384)).not.toEqual(a);
    expect(embeddingVector([1, 2, 3], 384)).not.toEqual(embeddingVector('1,2,3', 384));
    expect(norm(embeddingVector('hello world', 384, 32))).toBeCloseTo(1, 5);
  });
});

describe('embedding routes', () => {
  it('answers OpenAI /v1/embeddings with data in order and usage', async () => {
    const res = await post('/v1/embeddings', { model: 'e5-small', input: ['a b c', 'd'], encoding_format: 'float' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { index: number; embedding: number[] }[]; usage: { prompt_tokens: number; total_tokens: number } };
    expect(body.data.map((d) => d.embedding)).toEqual([embeddingVector('a b c', 384), embeddingVector('d', 384)]);
    expect(body.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    expect(server.stats().byRoute['openai.embeddings']).toMatchObject({ invocations: 1, succeeded: 1, promptTokens: 4 });
    expect(server.stats().byEndpoint['e5-small']?.invocations).toBe(1);
  });

  it('uses the configured dimension, shortens on request and refuses more than it has', async () => {
    server.setConfig({ endpoints: { small: { embeddingDimensions: 16 } } });
    const full = (await (await post('/v1/embeddings', { model: 'small', input: 'x' })).json()) as { data: { embedding: number[] }[] };
    expect(full.data[0]?.embedding).toHaveLength(16);
    const short = (await (await post('/v1/embeddings', { model: 'small', input: 'x', dimensions: 8 })).json()) as { data: { embedding: number[] }[] };
    expect(short.data[0]?.embedding).toEqual(embeddingVector('x', 16, 8));
    expect((await post('/v1/embeddings', { model: 'small', input: 'x', dimensions: 17 })).status).toBe(400);
  });

  it('answers TEI /embed as a list of vectors with the token count in x-compute-tokens', async () => {
    const res = await post('/embed', { inputs: [[5, 6, 7]] });
    expect(res.headers.get('x-compute-tokens')).toBe('3');
    expect(await res.json()).toEqual([embeddingVector([5, 6, 7], 384)]);
    expect(server.stats().byRoute['tei.embeddings']?.succeeded).toBe(1);
  });

  it('serves a TEI container behind SageMaker, the tokens in CustomAttributes', async () => {
    const client = sageMakerClient(server.url);
    const out = await client.send(
      new InvokeEndpointCommand({ EndpointName: 'bge-tei', ContentType: 'application/json', Body: jsonBytes({ inputs: ['one two'] }) }),
    );
    expect(JSON.parse(text(out.Body))).toEqual([embeddingVector('one two', 384)]);
    expect(out.CustomAttributes).toBe(`x-compute-tokens=${inputTokens('one two')}`);
    expect(server.stats().byRoute['sagemaker.embeddings']).toMatchObject({ invocations: 1, succeeded: 1 });
    expect(server.stats().byRoute['sagemaker.invoke']).toBeUndefined();
    client.destroy();
  });

  it('fails with the injected faults and rejects bad inputs', async () => {
    server.setConfig({ endpoints: { broken: { forcedStatus: 500 } } });
    expect((await post('/v1/embeddings', { model: 'broken', input: 'x' })).status).toBe(500);
    expect((await post('/v1/embeddings', { model: 'e5', input: [] })).status).toBe(400);
    expect((await post('/embed', { inputs: [[-1]] })).status).toBe(422);
  });
});
