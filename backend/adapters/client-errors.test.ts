/**
 * What a client learns when the model behind an adapter fails: both adapters, through core's
 * handleInvoke, against the reference model server (the ECS adapter over HTTP as to the internal
 * ALB, the SageMaker adapter with the real AWS SDK). The answer names the backend by its configured
 * model or endpoint name, never by an IP, a host:port, an ARN or an account id; the log line of the
 * same invocation (the fields recordOutcome hands the logger) does carry the address, for operators.
 */
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../tools/lib/net';
import { startModelServer, type ModelServer } from '../../tools/model-server/server';
import type { EcsModel } from '../config/ecs';
import type { SagemakerModel } from '../config/sagemaker';
import type { Backend, Timeouts } from '../core/backend';
import type { ContainerModel } from '../core/formats';
import { handleInvoke } from '../core/handle-invoke';
import { recordOutcome, type LogSink, type MetricsSink } from '../core/telemetry';
import { MemorySink } from '../testing/memory-sink';
import { ecsBackend } from './ecs/transport';
import { sagemakerBackend } from './sagemaker/transport';

/** Anything that locates the upstream: IPv4 (with or without port), bracketed IPv6, host:port, URLs, ARNs, account ids. */
const ADDRESS = /\b\d{1,3}(?:\.\d{1,3}){3}\b|\[[0-9a-f:]+\]|\b[a-z0-9.-]+:\d{2,5}\b|https?:\/\/|arn:aws|\b\d{12}\b|amazonaws\.com|localhost/i;

const timeouts: Timeouts = { requestMs: 3000, firstTokenMs: 3000, idleMs: 3000 };
const impatient: Timeouts = { requestMs: 150, firstTokenMs: 150, idleMs: 3000 };

let server: ModelServer;
let deadPort: number;
const clients: SageMakerRuntimeClient[] = [];

beforeAll(async () => {
  server = await startModelServer();
  deadPort = await freePort();
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await server?.close();
});
beforeEach(() => server.reset());

function ecs(root: string, t = timeouts): Backend<EcsModel> {
  return ecsBackend({ models: { 'vllm-chat': { format: 'openai-chat', modelId: 'llama-chat', baseUrl: `${root}/v1`, chatTemplate: 'default' } }, timeouts: t });
}

function sagemaker(endpoint: string, t = timeouts): Backend<SagemakerModel> {
  const client = new SageMakerRuntimeClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  clients.push(client);
  return sagemakerBackend(client, { models: { 'tgi-model': { endpointName: 'ep-tgi', format: 'tgi', chatTemplate: 'default' } }, timeouts: t });
}

function event(model: string, stream: boolean, maxTokens = 8): LambdaFunctionURLEvent {
  const body = JSON.stringify({ request_id: 'req-addr', tenant_id: 'ten-1', model, prompt: 'Hello there', params: { max_tokens: maxTokens }, stream });
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/invoke',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: { http: { method: 'POST', path: '/invoke' } },
    body,
    isBase64Encoded: false,
  } as unknown as LambdaFunctionURLEvent;
}

/** One invocation: what the client got (status, body) and the log line written for it. */
async function invoke<M extends ContainerModel>(backend: Backend<M>, model: string, stream = false, maxTokens = 8) {
  const sink = new MemorySink();
  const outcome = await handleInvoke(event(model, stream, maxTokens), sink, backend, { signal: new AbortController().signal });
  const lines: string[] = [];
  const logger: LogSink = {
    info: (msg: string, fields: unknown) => void lines.push(JSON.stringify({ msg, ...(fields as object) })),
    warn: (msg: string, fields: unknown) => void lines.push(JSON.stringify({ msg, ...(fields as object) })),
    error: (msg: string, fields: unknown) => void lines.push(JSON.stringify({ msg, ...(fields as object) })),
    debug: () => {},
  } as LogSink;
  const metrics: MetricsSink = { addDimension: () => undefined, addMetric: () => undefined, publishStoredMetrics: () => undefined };
  recordOutcome(outcome, { logger, metrics, logPayloads: false });
  return { status: sink.statusCode, body: sink.text(), log: lines.join('\n') };
}

describe('the ECS adapter', () => {
  const port = () => new URL(server.url).port;

  it.each([
    ['a container 500', { forcedStatus: 500 }, 502],
    ['a container 503', { forcedStatus: 503 }, 503],
    ['a container 429', { forcedStatus: 429 }, 429],
    ['a container 400', { forcedStatus: 400 }, 400],
  ] as const)('answers %s naming the model service, never its address; the log line has it', async (_name, config, status) => {
    server.setConfig(config);
    const got = await invoke(ecs(server.url), 'vllm-chat');
    console.warn(`ecs ${config.forcedStatus}: client ${got.status} ${got.body}`);
    expect(got.status).toBe(status);
    expect(got.body).not.toMatch(ADDRESS);
    expect(got.body).not.toContain(port());
    expect(got.log).toContain(`127.0.0.1:${port()}`);
  });

  it('names the model service, not the address, when it refuses connections or the first token is late', async () => {
    const refused = await invoke(ecs(`http://127.0.0.1:${deadPort}`), 'vllm-chat');
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { message: "the model service for 'llama-chat' is unreachable" } });
    expect(refused.body).not.toMatch(ADDRESS);
    expect(refused.log).toContain(`127.0.0.1:${deadPort}`);

    server.setConfig({ ttftMs: 2000 });
    const late = await invoke(ecs(server.url, impatient), 'vllm-chat', true);
    expect(late.status).toBe(504);
    expect(late.body).not.toMatch(ADDRESS);
    expect(late.log).toContain(`127.0.0.1:${port()}`);
  });

  it('keeps the address out of the answer when the connection drops during a stream', async () => {
    server.setConfig({ streamCutAfter: 2, streamCutMode: 'close', perTokenMs: 5 });
    const cut = await invoke(ecs(server.url), 'vllm-chat', true, 20);
    // An error event after the tokens that made it through, or the error itself when none did.
    expect(cut.body).toMatch(/"code":"UPSTREAM_ERROR"/);
    expect(cut.body).not.toMatch(ADDRESS);
    expect(cut.log).toContain(`127.0.0.1:${port()}`);
  });
});

describe('the SageMaker adapter', () => {
  it('answers a container failure without the ARN, account id or console URL SageMaker puts in its message; the log line has them', async () => {
    server.setConfig({ forcedStatus: 424 });
    const failed = await invoke(sagemaker(server.url), 'tgi-model');
    expect(failed.status).toBe(502);
    expect(failed.body).not.toMatch(ADDRESS);
    expect(failed.log).toMatch(/in account \d+/);
    expect(failed.log).toMatch(/https:\/\/[a-z0-9-]+\.console\.aws\.amazon\.com/);
  });

  it("passes a rejected input's reason, sanitised of the account and the URL", async () => {
    const rejected = await invoke(sagemaker(server.url), 'tgi-model', false, 5000);
    console.warn(`sagemaker context overflow: client ${rejected.status} ${rejected.body}`);
    expect(rejected.status).toBe(400);
    expect(JSON.parse(rejected.body)).toMatchObject({ error: { code: 'INVALID_INPUT', message: expect.stringMatching(/^the model rejected the request/) } });
    expect(rejected.body).not.toMatch(ADDRESS);
    expect(rejected.log).toMatch(/https:\/\/[a-z0-9-]+\.console\.aws\.amazon\.com/);
  });

  it('names the endpoint, not the runtime address, when the runtime is unreachable', async () => {
    const refused = await invoke(sagemaker(`http://127.0.0.1:${deadPort}`), 'tgi-model');
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ error: { message: 'endpoint ep-tgi is unreachable' } });
    expect(refused.body).not.toMatch(ADDRESS);
    expect(refused.log).toContain(`127.0.0.1:${deadPort}`);
  });
});
