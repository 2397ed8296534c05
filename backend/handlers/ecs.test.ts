/**
 * The ECS adapter as it runs in production: its streaming handler inside the local Lambda host,
 * called with SigV4 like the edge, over HTTP (Node's fetch, keep-alive) to the reference model
 * server's OpenAI-compatible API (as vLLM serves it) and TGI's native API.
 */
import '../../tools/lambda-host/register';
import { createServer, connect, type Server } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendErrorSchema, BackendInferResponseSchema, BackendStreamEventSchemas } from '../../shared/contracts/backend';
import { SSE_HEADERS } from '../../shared/contracts/boundary';
import { estimateTokens } from '../../shared/tokens';
import { freePort } from '../../tools/lib/net';
import { generate, renderChatPrompt } from '../../tools/model-server/generator';
import { startModelServer, type ModelServer } from '../../tools/model-server/server';
import { ecsBackend } from '../adapters/ecs/transport';
import type { EcsModel } from '../config/ecs';
import type { Timeouts } from '../core/backend';
import { SseReader, eventually, quietPowertools, startAdapterHost, tokenText, type AdapterHost } from '../testing/lambda';
import { createStreamingHandler } from './lambda-stream';

let server: ModelServer;
let adapters: AdapterHost;
let proxy: Server;
let proxyConnections = 0;

/** Models by gateway name; the model server keys its stats by `model` (OpenAI) or its own name (TGI). */
function models(root: string): Record<string, EcsModel> {
  return {
    'vllm-chat': { format: 'openai-chat', modelId: 'llama-chat', baseUrl: `${root}/v1`, chatTemplate: 'default' },
    'vllm-completions': { format: 'openai-completions', modelId: 'llama-base', baseUrl: `${root}/v1`, chatTemplate: 'default' },
    'tgi-native': { format: 'tgi', modelId: 'tgi-native', baseUrl: root, chatTemplate: 'default' },
  };
}
const STATS_KEY: Record<string, string> = { 'vllm-chat': 'llama-chat', 'vllm-completions': 'llama-base', 'tgi-native': 'reference-model' };
const NAMES = Object.keys(STATS_KEY);

function handlerFor(root: string, timeouts: Timeouts) {
  return createStreamingHandler({ backend: ecsBackend({ models: models(root), timeouts }), powertools: quietPowertools('ecs-adapter'), logPayloads: false });
}

/** A TCP proxy in front of the model server that counts the connections it accepts. */
async function startCountingProxy(target: number): Promise<{ server: Server; port: number }> {
  const s = createServer((socket) => {
    proxyConnections += 1;
    const upstream = connect(target, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  const port = await freePort();
  await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
  return { server: s, port };
}

beforeAll(async () => {
  server = await startModelServer();
  const counted = await startCountingProxy(server.port);
  proxy = counted.server;
  const roomy = { requestMs: 5000, firstTokenMs: 5000, idleMs: 5000 };
  adapters = await startAdapterHost({
    ecs: handlerFor(server.url, roomy),
    impatient: handlerFor(server.url, { requestMs: 150, firstTokenMs: 150, idleMs: 5000 }),
    proxied: handlerFor(`http://127.0.0.1:${counted.port}`, roomy),
    // Port 9 (discard): nothing listens there, where a port found free at setup may be taken by a
    // parallel test's server by the time this one calls it (it then answered 502, not refused).
    unreachable: handlerFor('http://127.0.0.1:9', roomy),
  });
});
afterAll(async () => {
  await adapters?.close();
  await new Promise((resolve) => proxy?.close(resolve));
  await server?.close();
});
beforeEach(() => server.reset());

const prompt = 'Summarise the week in one line.';
const request = (model: string, over: Record<string, unknown> = {}, maxTokens = 8) => ({
  request_id: 'req-ecs',
  tenant_id: 'ten-1',
  model,
  prompt,
  params: { max_tokens: maxTokens, temperature: 0 },
  ...over,
});
const expectedFor = (model: string, maxTokens: number) =>
  generate({
    prompt: model === 'vllm-chat' ? renderChatPrompt([{ role: 'user', content: prompt }]) : prompt,
    maxTokens,
    temperature: 0,
    topP: 1,
    seed: null,
    stop: [],
  });
const errorOf = async (res: Response) => BackendErrorSchema.parse(await res.json()).error;

describe('ECS adapter', () => {
  it.each(NAMES)('answers %s with the generated text and usage', async (model) => {
    const res = await adapters.call('ecs', request(model));
    expect(res.status).toBe(200);
    const body = BackendInferResponseSchema.parse(await res.json());
    const gen = expectedFor(model, 8);
    expect(body).toMatchObject({ output: gen.text, finish_reason: 'length', usage: { completion_tokens: 8 } });
    expect(body.usage.prompt_tokens).toBe(model === 'tgi-native' ? estimateTokens(prompt) : gen.promptTokens);
  });

  it.each(NAMES)('streams %s as token events then done', async (model) => {
    const res = await adapters.call('ecs', request(model, { stream: true }, 20));
    expect(res.headers.get('content-type')).toBe(SSE_HEADERS['content-type']);
    const events = await new SseReader(res).rest();
    expect(tokenText(events)).toBe(expectedFor(model, 20).text);
    expect(events.at(-1)?.event).toBe('done');
    expect(BackendStreamEventSchemas.done.parse(JSON.parse(events.at(-1)!.data)).usage.completion_tokens).toBe(20);
  });

  it.each(NAMES)('delivers the first %s token while the model server is still generating', async (model) => {
    // 2 s between tokens: the first token must reach the caller long before the generation ends.
    server.setConfig({ perTokenMs: 2000 });
    const reader = new SseReader(await adapters.call('ecs', request(model, { stream: true }, 3)));
    const first = await reader.next();
    expect(first?.event).toBe('token');
    expect(JSON.parse(first!.data)).toEqual({ text: expectedFor(model, 3).tokens[0]!.text });
    const stats = server.stats().byEndpoint[STATS_KEY[model]!];
    expect(stats?.streamsStarted).toBe(1);
    expect(stats?.streamsCompleted).toBe(0);
    await reader.cancel();
    await eventually(() => server.stats().byEndpoint[STATS_KEY[model]!]?.cancelled === 1);
  });

  it('reuses one kept-alive connection for consecutive calls', async () => {
    proxyConnections = 0;
    for (let i = 0; i < 3; i += 1) expect((await adapters.call('proxied', request('vllm-completions'))).status).toBe(200);
    expect(server.stats().totals.succeeded).toBe(3);
    expect(proxyConnections).toBe(1);
  });

  it.each([
    ['a container 400', { forcedStatus: 400 }, 400, 'INVALID_INPUT', 'model_rejected_input', null],
    ['a container 429', { forcedStatus: 429, retryAfterSeconds: 6 }, 429, 'RATE_LIMITED', 'model_overloaded', '6'],
    ['a container 500', { forcedStatus: 500 }, 502, 'UPSTREAM_ERROR', 'model_error', null],
    ['a container 503', { forcedStatus: 503, retryAfterSeconds: 3 }, 503, 'UPSTREAM_ERROR', 'unavailable', '3'],
    ['a model still loading', { warmingForMs: 12_000 }, 503, 'UPSTREAM_ERROR', 'model_not_ready', '12'],
  ] as const)('maps %s', async (_name, config, status, code, reason, retryAfter) => {
    server.setConfig(config);
    const res = await adapters.call('ecs', request('vllm-chat', { stream: true }));
    expect(res.status).toBe(status);
    expect(res.headers.get('retry-after')).toBe(retryAfter);
    expect(await errorOf(res)).toMatchObject({ code, details: { reason } });
  });

  it('passes the sanitised reason of a rejected input (context window exceeded)', async () => {
    const res = await adapters.call('ecs', request('vllm-completions', {}, 5000));
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(/maximum context length/);
  });

  it.each(['error', 'close'] as const)('ends a stream cut mid-way (%s) with an error event', async (streamCutMode) => {
    server.setConfig({ streamCutAfter: 2, streamCutMode, perTokenMs: 5 });
    const events = await new SseReader(await adapters.call('ecs', request('vllm-chat', { stream: true }))).rest();
    const names = events.map((e) => e.event);
    if (streamCutMode === 'error') expect(names).toEqual(['token', 'token', 'error']);
    else {
      // An abrupt close (TCP reset) may discard the last bytes already written: the tokens that made
      // it through are relayed, and the stream always ends with one error event, never a hang.
      expect(names.at(-1)).toBe('error');
      expect(names.slice(0, -1).every((n) => n === 'token') && names.length <= 3).toBe(true);
    }
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: 'UPSTREAM_ERROR', details: { reason: 'model_stream_error' } });
  });

  it('answers 504 when the first token is late, and the model server sees the call cancelled', async () => {
    server.setConfig({ ttftMs: 2000 });
    const res = await adapters.call('impatient', request('tgi-native', { stream: true }));
    expect(res.status).toBe(504);
    expect((await errorOf(res)).code).toBe('TIMEOUT');
    await eventually(() => server.stats().totals.cancelled === 1);
  });

  it('cancels generation at the model server when the caller goes away mid-stream', async () => {
    server.setConfig({ perTokenMs: 100 });
    const reader = new SseReader(await adapters.call('ecs', request('vllm-chat', { stream: true }, 50)));
    expect((await reader.next())?.event).toBe('token');
    await reader.cancel();
    await eventually(() => server.stats().byEndpoint['llama-chat']?.cancelled === 1);
  });

  it('answers 503 with Retry-After when the service refuses connections', async () => {
    const res = await adapters.call('unreachable', request('vllm-chat'));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await errorOf(res)).toMatchObject({ code: 'UPSTREAM_ERROR', details: { reason: 'unreachable' } });
  });

  it('starts from its Lambda entry module with the configuration from the environment', async () => {
    const entry = await startAdapterHost({}, 5000, [
      {
        name: 'ecs-entry',
        handler: { module: 'backend/handlers/ecs.ts' },
        env: {
          ECS_BASE_URL: `${server.url}/v1`,
          ECS_MODELS: JSON.stringify({ 'served-model': { format: 'openai-chat' } }),
          POWERTOOLS_LOG_LEVEL: 'SILENT',
          POWERTOOLS_METRICS_DISABLED: 'true',
        },
      },
    ]);
    try {
      const res = await entry.call('ecs-entry', request('served-model'));
      expect(BackendInferResponseSchema.parse(await res.json()).usage.completion_tokens).toBe(8);
      expect(server.stats().byEndpoint['served-model']?.succeeded).toBe(1);
    } finally {
      await entry.close();
    }
  });
});
