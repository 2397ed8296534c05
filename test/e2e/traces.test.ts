/**
 * Traces end to end through the whole local stack (`npm start`'s edge bundle in workerd, the Lambda
 * host's adapters, the reference model server, the metrics sink as the collector): one request of
 * the official `openai` client, unchanged, yields the edge's and the adapter's spans under one trace
 * id, the container saw that trace and the request id, and the sink's timeline page draws them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTraceparent, SPAN_ATTR as A } from '../../shared/contracts/trace';
import type { StoredSpan } from '../../tools/metrics-sink/traces';
import { startStack, type Stack } from '../../tools/stack/stack';

let stack: Stack;
let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gw-traces-'));
  stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

async function tracesOf(requestId: string, ready: (spans: StoredSpan[]) => boolean): Promise<Array<{ traceId: string; spans: StoredSpan[] }>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const traces = (await (await fetch(`${stack.metricsSink.url}/api/traces?request_id=${requestId}`)).json()) as Array<{
      traceId: string;
      spans: StoredSpan[];
    }>;
    if (ready(traces.flatMap((t) => t.spans)) || Date.now() > deadline) return traces;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('traces through the local stack', () => {
  it("one openai-client request: edge and adapter spans in one trace, the container's context, and the timeline page", async () => {
    const client = new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: stack.apiKey, maxRetries: 0 });
    const requestId = `e2e-trace-${crypto.randomUUID()}`;
    const stream = await client.chat.completions.create(
      {
        model: stack.model,
        messages: [{ role: 'user', content: 'follow me through the stack' }],
        max_tokens: 6,
        stream: true,
        stream_options: { include_usage: true },
      },
      { headers: { 'X-Request-ID': requestId } },
    );
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    expect(usage?.completion_tokens).toBeGreaterThan(0);

    const traces = await tracesOf(requestId, (spans) => new Set(spans.map((s) => s.service)).size >= 2 && spans.length >= 10);
    expect(traces).toHaveLength(1);
    const [{ traceId, spans }] = traces as [{ traceId: string; spans: StoredSpan[] }];
    const edge = spans.filter((s) => s.service === 'inference-gateway-edge');
    const adapter = spans.filter((s) => s.service === 'sagemaker-adapter');
    expect(edge.map((s) => s.name).sort()).toEqual(['POST /v1/chat/completions', 'auth', 'cache', 'limits', 'route', 'upstream']);
    expect(adapter.map((s) => s.name).sort()).toEqual(['POST /invoke', 'first_token', 'invoke', 'parse']);
    const root = edge.find((s) => s.name === 'POST /v1/chat/completions')!;
    const upstream = edge.find((s) => s.name === 'upstream')!;
    expect(root.parentSpanId).toBeUndefined();
    expect(root.attributes).toMatchObject({
      [A.requestId]: requestId,
      [A.genAiOperation]: 'chat',
      [A.genAiRequestModel]: stack.model,
      [A.genAiInputTokens]: usage!.prompt_tokens,
      [A.genAiOutputTokens]: usage!.completion_tokens,
    });
    expect(adapter.find((s) => s.name === 'POST /invoke')!.parentSpanId).toBe(upstream.spanId);
    const invoke = adapter.find((s) => s.name === 'invoke')!;
    expect(invoke.attributes).toMatchObject({ [A.genAiRequestModel]: stack.model, [A.genAiOutputTokens]: usage!.completion_tokens });

    const received = stack.modelServer.received(requestId);
    expect(received).toHaveLength(1);
    expect(parseTraceparent(received[0]!.traceparent)).toEqual({ traceId, spanId: invoke.spanId, sampled: true });

    const page = await fetch(`${stack.metricsSink.url}/traces?request_id=${encodeURIComponent(requestId)}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain(`data-trace-id="${traceId}"`);
    const rows = [...html.matchAll(/<tr class="span" data-span-id="([0-9a-f]{16})" data-parent-id="([0-9a-f]*)" data-service="([^"]+)" data-name="([^"]+)"/g)];
    expect(rows).toHaveLength(spans.length);
    // Tree order: the edge's server span first, each span after its parent.
    expect(rows[0]?.[4]).toBe('POST /v1/chat/completions');
    const seen = new Set<string>();
    for (const [, id, parent] of rows) {
      if (parent) expect(seen.has(parent!)).toBe(true);
      seen.add(id!);
    }
    expect(new Set(rows.map((r) => r[3]))).toEqual(new Set(['inference-gateway-edge', 'sagemaker-adapter']));
  });
});
