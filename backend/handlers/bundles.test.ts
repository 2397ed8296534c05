/**
 * The adapters as CDK deploys them: each handler bundled with the one bundling definition
 * (backend/scripts/bundling.ts, AWS SDK included), loaded from its bundle by the local Lambda host
 * (Function URL, AWS_IAM, RESPONSE_STREAM) and called with SigV4, against the reference model
 * server: the SageMaker adapter over the real SageMaker runtime wire protocol, the ECS adapter
 * over the container's OpenAI API. What tree-shaking leaves out must not be something they need.
 */
import '../../tools/lambda-host/register';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendInferResponseSchema, BackendStreamEventSchemas } from '../../shared/contracts/backend';
import { generate } from '../../tools/model-server/generator';
import { startModelServer, type ModelServer } from '../../tools/model-server/server';
import { bundleAdapter } from '../scripts/bundling';
import { SseReader, startAdapterHost, tokenText, type AdapterHost } from '../testing/lambda';

const REPO = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'adapter-bundle-test-'));
const bundleOf = (adapter: string) => join(dir, `${adapter}.cjs`);

let server: ModelServer;
let adapters: AdapterHost;

/** The environment a deployed adapter runs with, kept local (no X-Ray daemon, no EMF, no collector). */
const LOCAL_RUNTIME = { POWERTOOLS_DEV: 'true', POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_TRACE_ENABLED: 'false', POWERTOOLS_METRICS_DISABLED: 'true' };

beforeAll(async () => {
  for (const adapter of ['sagemaker', 'ecs']) await bundleAdapter(join(REPO, `backend/handlers/${adapter}.ts`), bundleOf(adapter));
  server = await startModelServer();
  adapters = await startAdapterHost({}, 10_000, [
    {
      name: 'sagemaker',
      handler: { module: bundleOf('sagemaker') },
      env: {
        ...LOCAL_RUNTIME,
        AWS_ACCESS_KEY_ID: 'AKIALOCALSAGEMAKER',
        AWS_SECRET_ACCESS_KEY: 'local-sagemaker-secret',
        SAGEMAKER_RUNTIME_ENDPOINT: server.url,
        SAGEMAKER_MODELS: JSON.stringify({ 'tgi-model': { endpointName: 'ep-tgi', format: 'tgi', chatTemplate: 'default' } }),
      },
    },
    {
      name: 'ecs',
      handler: { module: bundleOf('ecs') },
      env: { ...LOCAL_RUNTIME, ECS_BASE_URL: `${server.url}/v1`, ECS_MODELS: JSON.stringify({ 'chat-model': { format: 'openai-completions' } }) },
    },
  ]);
}, 120_000);
afterAll(async () => {
  await adapters?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const prompt = 'Why do GPUs like large batches?';
const request = (model: string, stream: boolean) => ({
  request_id: `req-bundle-${model}`,
  tenant_id: 'ten-1',
  model,
  prompt,
  stream,
  params: { max_tokens: 8, temperature: 0 },
});
const expected = generate({ prompt, maxTokens: 8, temperature: 0, topP: 1, seed: null, stop: [] });

describe.each([
  ['sagemaker', 'tgi-model'],
  ['ecs', 'chat-model'],
])('the %s adapter from its deploy bundle', (adapter, model) => {
  it('is within the 1 MB budget with the AWS SDK in it', () => {
    expect(statSync(bundleOf(adapter)).size).toBeLessThanOrEqual(1_000_000);
  });

  it('answers a request with the generated text', async () => {
    const res = await adapters.call(adapter, request(model, false));
    expect(res.status).toBe(200);
    const body = BackendInferResponseSchema.parse(await res.json());
    expect([body.output, body.usage.completion_tokens]).toEqual([expected.text, 8]);
  });

  it('streams the same text token by token, then done', async () => {
    const res = await adapters.call(adapter, request(model, true));
    expect(res.status).toBe(200);
    const events = await new SseReader(res).rest();
    expect(events.filter((e) => e.event === 'token').length).toBe(8);
    expect(tokenText(events)).toBe(expected.text);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(BackendStreamEventSchemas.done.parse(JSON.parse(done.data)).usage.completion_tokens).toBe(8);
  });
});
