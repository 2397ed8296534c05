/**
 * The embeddings path of both adapters as they run in production (streaming handlers in the local
 * Lambda host, SigV4 like the edge): the SageMaker adapter with the real AWS SDK to a TEI container
 * behind an endpoint, the ECS adapter over HTTP to the OpenAI-compatible `/v1/embeddings` (vLLM),
 * both answered by the reference model server. Vectors and token counts are the container's.
 */
import '../../tools/lambda-host/register';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendErrorSchema } from '../../shared/contracts/backend';
import { BackendEmbeddingsResponseSchema, EMBEDDINGS_PATH } from '../../shared/contracts/embeddings';
import { embeddingVector, inputTokens } from '../../tools/model-server/embeddings';
import { startModelServer, type ModelServer } from '../../tools/model-server/server';
import { ecsBackend } from '../adapters/ecs/transport';
import { sagemakerBackend } from '../adapters/sagemaker/transport';
import { quietPowertools, startAdapterHost, type AdapterHost } from '../testing/lambda';
import { createStreamingHandler } from './lambda-stream';

let server: ModelServer;
let adapters: AdapterHost;
let client: SageMakerRuntimeClient;
const timeouts = { requestMs: 5000, firstTokenMs: 5000, idleMs: 5000 };

beforeAll(async () => {
  server = await startModelServer();
  client = new SageMakerRuntimeClient({
    region: 'us-east-1',
    endpoint: server.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const sagemaker = sagemakerBackend(client, {
    models: {
      'bge-tei': { endpointName: 'ep-bge', format: 'tei-embed', chatTemplate: 'default' },
      'tgi-chat': { endpointName: 'ep-tgi', format: 'tgi', chatTemplate: 'default' },
    },
    timeouts,
  });
  const ecs = ecsBackend({
    models: { 'e5-vllm': { format: 'openai-embeddings', modelId: 'e5-small', baseUrl: `${server.url}/v1`, chatTemplate: 'default' } },
    timeouts,
  });
  adapters = await startAdapterHost({
    sagemaker: createStreamingHandler({ backend: sagemaker, powertools: quietPowertools('sagemaker-adapter'), logPayloads: false }),
    ecs: createStreamingHandler({ backend: ecs, powertools: quietPowertools('ecs-adapter'), logPayloads: false }),
  });
});
afterAll(async () => {
  await adapters?.close();
  client?.destroy();
  await server?.close();
});
beforeEach(() => server.reset());

const embed = (adapter: string, model: string, inputs: unknown[], extra: Record<string, unknown> = {}) =>
  adapters.call(adapter, JSON.stringify({ request_id: 'req-embed', tenant_id: 'ten-1', model, inputs, ...extra }), { path: EMBEDDINGS_PATH });

const TEXTS = ['The quick brown fox.', 'jumps over', 'the lazy dog'];
const TOKENS = [
  [101, 2023, 2003, 102],
  [7, 8],
];

describe.each([
  ['sagemaker', 'bge-tei', 'ep-bge', 'sagemaker.embeddings'],
  ['ecs', 'e5-vllm', 'e5-small', 'openai.embeddings'],
] as const)('%s adapter embeddings', (adapter, model, statsKey, route) => {
  it.each([
    ['texts', TEXTS],
    ['token lists', TOKENS],
  ] as const)('answers the container vectors of %s in order and its token count', async (_kind, inputs) => {
    const res = await embed(adapter, model, [...inputs]);
    expect(res.status).toBe(200);
    const body = BackendEmbeddingsResponseSchema.parse(await res.json());
    expect(body.embeddings).toEqual(inputs.map((input) => embeddingVector(input, 384)));
    const tokens = inputs.reduce<number>((sum, input) => sum + inputTokens(input), 0);
    expect(body.usage.prompt_tokens).toBe(tokens);
    const stats = server.stats();
    expect(stats.byRoute[route]).toMatchObject({ invocations: 1, succeeded: 1, promptTokens: tokens });
    expect(stats.byEndpoint[statsKey]?.invocations).toBe(1);
  });

  it('passes dimensions on, and maps a container failure to the envelope with Retry-After', async () => {
    const short = BackendEmbeddingsResponseSchema.parse(await (await embed(adapter, model, ['short'], { dimensions: 64 })).json());
    expect(short.embeddings[0]).toEqual(embeddingVector('short', 384, 64));
    server.setConfig({ endpoints: { [statsKey]: { forcedStatus: 503, retryAfterSeconds: 2 } } });
    const failed = await embed(adapter, model, ['x']);
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('2');
    expect(BackendErrorSchema.parse(await failed.json()).error.code).toBe('UPSTREAM_ERROR');
  });

  it('refuses a bad batch with 400 naming the field', async () => {
    const negative = await embed(adapter, model, [[-1]]);
    expect(negative.status).toBe(400);
    expect(BackendErrorSchema.parse(await negative.json()).error.message).toContain('inputs.0');
    const mixed = await embed(adapter, model, ['text', [1, 2]]);
    expect(mixed.status).toBe(400);
    expect(BackendErrorSchema.parse(await mixed.json()).error.message).toContain('all texts or all token lists');
  });
});

describe('model kinds on the adapters', () => {
  it('refuses generation of an embeddings model and embeddings of a generation model', async () => {
    const generate = await adapters.call('sagemaker', { request_id: 'r', tenant_id: 't', model: 'bge-tei', prompt: 'hi' });
    expect(generate.status).toBe(400);
    expect(BackendErrorSchema.parse(await generate.json()).error.message).toContain("'bge-tei' serves embeddings");
    const embedChat = await embed('sagemaker', 'tgi-chat', ['hi']);
    expect(embedChat.status).toBe(400);
    expect(BackendErrorSchema.parse(await embedChat.json()).error.message).toContain("'tgi-chat' does not serve embeddings");
    expect(server.stats().totals.invocations).toBe(0);
  });
});
