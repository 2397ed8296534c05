/**
 * The adapters' traces as they run in production: each handler inside the local Lambda host,
 * called with SigV4 and a `traceparent` like the edge's, against the reference model server, with
 * the local metrics sink as the OTLP collector. The invocation's spans (server span, parse, invoke,
 * first token) continue the caller's trace with GenAI attributes; the container receives the
 * `invoke` span's context and the request id (ECS: headers, SageMaker: CustomAttributes through the
 * real SDK); a slow or absent collector does not hold the answer back.
 */
import '../../tools/lambda-host/register';
import { createServer, type Server } from 'node:http';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { newSpanId, newTraceId, parseTraceparent, SPAN_ATTR as A } from '../../shared/contracts/trace';
import { freePort } from '../../tools/lib/net';
import { startMetricsSink, type MetricsSink } from '../../tools/metrics-sink/server';
import type { StoredSpan } from '../../tools/metrics-sink/traces';
import { startModelServer, type ModelServer } from '../../tools/model-server/server';
import { ecsBackend } from '../adapters/ecs/transport';
import { sagemakerBackend } from '../adapters/sagemaker/transport';
import { createTracing } from '../core/tracing';
import { eventually, quietPowertools, SseReader, startAdapterHost, tokenText, type AdapterHost } from '../testing/lambda';
import { createStreamingHandler } from './lambda-stream';
import { createPowertools } from './powertools';

/** Real Powertools printing JSON to the console (dev mode), metrics off: what a test can read. */
function printingPowertools(service: string) {
  const env = { POWERTOOLS_DEV: 'true', POWERTOOLS_LOG_LEVEL: 'INFO', POWERTOOLS_METRICS_DISABLED: 'true' } as const;
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return createPowertools(service, { logPayloads: false, metricsNamespace: 'Test' });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

let server: ModelServer;
let sink: MetricsSink;
let hung: Server;
let adapters: AdapterHost;
const clients: SageMakerRuntimeClient[] = [];
const timeouts = { requestMs: 5000, firstTokenMs: 5000, idleMs: 5000 };
// Well above an invocation's own time on a loaded machine: the bounds below tell an answer that waited for the export from one that did not.
const EXPORT_TIMEOUT_MS = 1_000;

function sagemakerHandler(collector: string) {
  const client = new SageMakerRuntimeClient({
    region: 'us-east-1',
    endpoint: server.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  clients.push(client);
  return createStreamingHandler({
    backend: sagemakerBackend(client, { models: { 'sm-model': { endpointName: 'ep-trace', format: 'tgi', chatTemplate: 'default' } }, timeouts }),
    powertools: quietPowertools('sagemaker-adapter'),
    logPayloads: false,
    tracing: createTracing('sagemaker-adapter', { endpoint: collector, timeoutMs: EXPORT_TIMEOUT_MS, sampleRatio: 1, environment: 'test' }),
  });
}

function ecsHandler(collector: string, powertools = quietPowertools('ecs-adapter')) {
  return createStreamingHandler({
    backend: ecsBackend({
      models: { 'ecs-model': { format: 'openai-chat', modelId: 'llama-chat', baseUrl: `${server.url}/v1`, chatTemplate: 'default' } },
      timeouts,
    }),
    powertools,
    logPayloads: false,
    tracing: createTracing('ecs-adapter', { endpoint: collector, timeoutMs: EXPORT_TIMEOUT_MS, sampleRatio: 1, environment: 'test' }),
  });
}

beforeAll(async () => {
  server = await startModelServer();
  sink = await startMetricsSink({ port: 0, region: 'us-east-1', credentials: [] });
  // A collector that accepts connections and never answers.
  hung = createServer(() => {});
  const hungPort = await freePort();
  await new Promise<void>((resolve) => hung.listen(hungPort, '127.0.0.1', resolve));
  const collector = `${sink.url}/v1/traces`;
  adapters = await startAdapterHost({
    sagemaker: sagemakerHandler(collector),
    ecs: ecsHandler(collector),
    logged: ecsHandler(collector, printingPowertools('ecs-adapter')),
    slowCollector: ecsHandler(`http://127.0.0.1:${hungPort}/v1/traces`),
    noCollector: ecsHandler(`http://127.0.0.1:${await freePort()}/v1/traces`),
  });
});
afterAll(async () => {
  await adapters?.close();
  for (const c of clients) c.destroy();
  hung?.closeAllConnections();
  await new Promise((resolve) => hung?.close(resolve));
  await sink?.close();
  await server?.close();
});
beforeEach(() => server.reset());

const caller = () => {
  const traceId = newTraceId();
  const parentId = newSpanId();
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01` };
};

/** The trace's spans once the sink holds `count` of them. */
async function spansOf(traceId: string, count: number): Promise<Map<string, StoredSpan>> {
  await eventually(() => sink.traces.trace(traceId).length >= count, 5000);
  const spans = sink.traces.trace(traceId);
  expect(spans).toHaveLength(count);
  return new Map(spans.map((s) => [s.name, s]));
}

describe('adapter traces', () => {
  it('SageMaker: continues the trace, exports parse and invoke with GenAI attributes, and hands the container its context and request id in CustomAttributes', async () => {
    const { traceId, parentId, traceparent } = caller();
    const res = await adapters.call(
      'sagemaker',
      { request_id: 'req-trace-sm', tenant_id: 'ten-1', model: 'sm-model', prompt: 'trace me', params: { max_tokens: 6, temperature: 0 } },
      { headers: { traceparent, tracestate: 'gw=edge' } },
    );
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };

    const spans = await spansOf(traceId, 3);
    const root = spans.get('POST /invoke')!;
    const parse = spans.get('parse')!;
    const invoke = spans.get('invoke')!;
    expect(root).toMatchObject({ service: 'sagemaker-adapter', kind: 2, parentSpanId: parentId, statusCode: 0 });
    expect(root.attributes).toMatchObject({ [A.requestId]: 'req-trace-sm', [A.tenantId]: 'ten-1', [A.httpStatus]: 200, [A.genAiRequestModel]: 'sm-model' });
    expect(parse.parentSpanId).toBe(root.spanId);
    expect(invoke).toMatchObject({ kind: 3, parentSpanId: root.spanId });
    expect(invoke.attributes).toMatchObject({
      [A.genAiSystem]: 'self_hosted',
      [A.genAiOperation]: 'text_completion',
      [A.genAiRequestModel]: 'sm-model',
      [A.genAiRequestMaxTokens]: 6,
      [A.genAiInputTokens]: answer.usage.prompt_tokens,
      [A.genAiOutputTokens]: answer.usage.completion_tokens,
      [A.serverAddress]: 'ep-trace',
    });
    expect(invoke.startMs).toBeGreaterThanOrEqual(parse.endMs - 1);

    const [received] = server.received('req-trace-sm');
    expect(received).toMatchObject({ via: 'custom-attributes', tracestate: 'gw=edge', requestId: 'req-trace-sm' });
    expect(parseTraceparent(received!.traceparent)).toEqual({ traceId, spanId: invoke.spanId, sampled: true });
  });

  it('ECS stream: a first_token span under invoke, and the container gets traceparent and x-request-id headers', async () => {
    const { traceId, parentId, traceparent } = caller();
    const res = await adapters.call(
      'ecs',
      {
        request_id: 'req-trace-ecs',
        tenant_id: 'ten-2',
        model: 'ecs-model',
        messages: [{ role: 'user', content: 'stream a trace' }],
        params: { max_tokens: 5 },
        stream: true,
      },
      { headers: { traceparent } },
    );
    expect(res.status).toBe(200);
    expect(tokenText(await new SseReader(res).rest())).not.toBe('');

    const spans = await spansOf(traceId, 4);
    const root = spans.get('POST /invoke')!;
    const invoke = spans.get('invoke')!;
    const first = spans.get('first_token')!;
    expect(root.parentSpanId).toBe(parentId);
    expect(root.service).toBe('ecs-adapter');
    expect(invoke.attributes).toMatchObject({ [A.genAiOperation]: 'chat', [A.stream]: true, [A.genAiOutputTokens]: 5 });
    expect(invoke.attributes[A.ttftMs]).toBeTypeOf('number');
    expect(first).toMatchObject({ parentSpanId: invoke.spanId, statusCode: 0 });
    expect(first.endMs).toBeLessThanOrEqual(invoke.endMs);

    const [received] = server.received('req-trace-ecs');
    expect(received).toMatchObject({ via: 'headers', path: '/v1/chat/completions', requestId: 'req-trace-ecs' });
    expect(parseTraceparent(received!.traceparent)).toEqual({ traceId, spanId: invoke.spanId, sampled: true });
  });

  it('records nothing for an unsampled caller but still passes its trace on, unsampled', async () => {
    const traceId = newTraceId();
    const res = await adapters.call(
      'ecs',
      { request_id: 'req-trace-off', tenant_id: 'ten-3', model: 'ecs-model', prompt: 'quiet', params: { max_tokens: 3 } },
      { headers: { traceparent: `00-${traceId}-${newSpanId()}-00` } },
    );
    expect(res.status).toBe(200);
    await res.text();
    const [received] = server.received('req-trace-off');
    expect(parseTraceparent(received!.traceparent)).toMatchObject({ traceId, sampled: false });
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.traces.trace(traceId)).toEqual([]);
  });

  it("writes the invocation's log line with the trace id and the request id", async () => {
    const printed: string[] = [];
    for (const method of ['log', 'info', 'warn', 'error'] as const)
      vi.spyOn(console, method).mockImplementation((first: unknown) => void printed.push(String(first)));
    try {
      const { traceId, traceparent } = caller();
      const res = await adapters.call(
        'logged',
        { request_id: 'req-trace-log', tenant_id: 'ten-5', model: 'ecs-model', prompt: 'log me', params: { max_tokens: 2 } },
        { headers: { traceparent, 'x-request-id': 'req-trace-log' } },
      );
      expect(res.status).toBe(200);
      await res.text();
      await eventually(() => printed.some((p) => p.includes('req-trace-log')));
      const line = printed
        .filter((p) => p.trimStart().startsWith('{'))
        .map((p) => JSON.parse(p) as Record<string, unknown>)
        .find((l) => l.message === 'invoke');
      expect(line).toMatchObject({ trace_id: traceId, request_id: 'req-trace-log', tenant_id: 'ten-5' });
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('answers in full, without waiting, when the collector hangs or is down', async () => {
    for (const name of ['slowCollector', 'noCollector']) {
      // Warm: the first invocation also loads the SDK, as a cold Lambda would.
      await (
        await adapters.call(name, { request_id: `req-${name}-warm`, tenant_id: 'ten-4', model: 'ecs-model', prompt: 'warm', params: { max_tokens: 1 } })
      ).text();
      const { traceparent } = caller();
      const started = performance.now();
      const res = await adapters.call(
        name,
        { request_id: `req-${name}`, tenant_id: 'ten-4', model: 'ecs-model', prompt: 'no collector', params: { max_tokens: 4 }, stream: true },
        { headers: { traceparent } },
      );
      const events = await new SseReader(res).rest();
      const elapsed = performance.now() - started;
      expect(res.status, name).toBe(200);
      expect(events.at(-1)?.event, name).toBe('done');
      // The flush runs after the answer's end and is bounded by the export timeout.
      expect(elapsed, name).toBeLessThan(EXPORT_TIMEOUT_MS);
      // The next invocation is not held up beyond the bound either.
      const next = performance.now();
      const again = await adapters.call(name, {
        request_id: `req-${name}-2`,
        tenant_id: 'ten-4',
        model: 'ecs-model',
        prompt: 'again',
        params: { max_tokens: 2 },
      });
      expect(again.status, name).toBe(200);
      await again.text();
      expect(performance.now() - next, name).toBeLessThan(EXPORT_TIMEOUT_MS * 3);
    }
  });
});
