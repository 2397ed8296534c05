/**
 * Traces through the worker in workerd against the real stack, with the local metrics sink as the
 * collector of both the edge and the adapters: the edge joins a client's valid `traceparent` (or
 * starts a trace), exports its server span and the phases with GenAI attributes from `waitUntil`,
 * and the adapter's spans hang under the edge's `upstream` span in the same trace; the container
 * receives that trace; a queued job's upstream call continues its submission's trace. A slow or
 * down collector neither delays nor breaks an answer.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { newSpanId, newTraceId, parseTraceparent, SPAN_ATTR as A } from '../../shared/contracts/trace';
import { createApp } from '../app';
import { type Bindings, getConfig } from '../env';
import { IsolateMetrics } from '../services/metrics';
import { BackendHealth } from '../services/routing/health';
import { EDGE_SERVICE_NAME } from '../services/tracing';
import { modelReset, post } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';

const model = inject('model');
const sinkUrl = inject('metricsSinkUrl');
const modelServerUrl = inject('modelServerUrl');
const unique = (label: string) => `${label} ${crypto.randomUUID()}`;

interface Span {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly service: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly statusCode: number;
  readonly attributes: Record<string, unknown>;
}

/** The spans the sink holds for a trace (or a request id), once `ready` says they are all there. */
async function spansFor(query: string, ready: (spans: Span[]) => boolean): Promise<Span[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const traces = (await (await fetch(`${sinkUrl}/api/traces?${query}`)).json()) as Array<{ spans: Span[] }>;
    const spans = traces.flatMap((t) => t.spans);
    if (ready(spans)) return spans;
    if (Date.now() > deadline) throw new Error(`spans for ${query} incomplete: ${spans.map((s) => `${s.service}/${s.name}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const edgeSpans = (spans: Span[]) => spans.filter((s) => s.service === EDGE_SERVICE_NAME);
const adapterSpans = (spans: Span[]) => spans.filter((s) => s.service !== EDGE_SERVICE_NAME);
const named = (spans: Span[], name: string) => spans.find((s) => s.name === name)!;

async function received(requestId: string): Promise<Array<{ traceparent?: string; requestId?: string; via: string }>> {
  return ((await (await fetch(`${modelServerUrl}/admin/requests?request_id=${requestId}`)).json()) as { requests: [] }).requests;
}

afterEach(async () => {
  await modelReset();
});

describe('traces', () => {
  it("joins the client's trace: edge server span and phases, then the adapter's spans under the upstream span, with GenAI attributes", async () => {
    const { key, tenant } = await seedTenantKey();
    const traceId = newTraceId();
    const clientSpan = newSpanId();
    const requestId = `req-trace-${crypto.randomUUID()}`;
    const res = await post(
      '/v1/infer',
      key,
      { model, prompt: unique('trace'), params: { max_tokens: 5, temperature: 0 } },
      { traceparent: `00-${traceId}-${clientSpan}-01`, tracestate: 'client=1', 'x-request-id': requestId },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };

    const spans = await spansFor(`trace_id=${traceId}`, (s) => edgeSpans(s).length === 6 && adapterSpans(s).length === 3);
    const edge = edgeSpans(spans);
    const root = named(edge, 'POST /v1/infer');
    expect(root).toMatchObject({ traceId, parentSpanId: clientSpan, kind: 2, statusCode: 0 });
    expect(root.attributes).toMatchObject({
      [A.requestId]: requestId,
      [A.tenantId]: tenant.tenantId,
      [A.httpStatus]: 200,
      [A.genAiSystem]: 'self_hosted',
      [A.genAiOperation]: 'text_completion',
      [A.genAiRequestModel]: model,
      [A.genAiRequestMaxTokens]: 5,
      [A.genAiInputTokens]: body.usage.prompt_tokens,
      [A.genAiOutputTokens]: body.usage.completion_tokens,
      [A.cache]: 'MISS',
    });
    expect(edge.map((s) => s.name).sort()).toEqual(['POST /v1/infer', 'auth', 'cache', 'limits', 'route', 'upstream']);
    for (const child of edge.filter((s) => s !== root)) {
      expect(child.parentSpanId, child.name).toBe(root.spanId);
      expect(child.startMs, child.name).toBeGreaterThanOrEqual(root.startMs);
      expect(child.endMs, child.name).toBeLessThanOrEqual(root.endMs + 1);
    }
    const upstream = named(edge, 'upstream');
    expect(upstream.kind).toBe(3);
    expect(upstream.attributes).toMatchObject({
      [A.genAiRequestModel]: model,
      [A.genAiOutputTokens]: body.usage.completion_tokens,
      [A.backend]: 'sagemaker-local',
    });
    expect(named(edge, 'cache').attributes[A.cache]).toBe('MISS');

    const adapter = adapterSpans(spans);
    const invocation = named(adapter, 'POST /invoke');
    expect(invocation).toMatchObject({ service: 'sagemaker-adapter', parentSpanId: upstream.spanId });
    expect(invocation.attributes[A.requestId]).toBe(requestId);
    const invoke = named(adapter, 'invoke');
    expect(invoke.attributes).toMatchObject({ [A.genAiRequestModel]: model, [A.genAiOutputTokens]: body.usage.completion_tokens });

    const [atContainer] = await received(requestId);
    expect(atContainer?.via).toBe('custom-attributes');
    expect(parseTraceparent(atContainer?.traceparent)).toEqual({ traceId, spanId: invoke.spanId, sampled: true });
  });

  it("continues the submitting request's trace in a queued job's upstream call: the adapter's spans under the submission's server span", async () => {
    const { key } = await seedTenantKey({ scopes: ['infer', 'jobs'] });
    const traceId = newTraceId();
    const clientSpan = newSpanId();
    const submitted = await post(
      '/v1/jobs',
      key,
      { model, prompt: unique('traced job'), params: { max_tokens: 4 } },
      { traceparent: `00-${traceId}-${clientSpan}-01`, tracestate: 'client=1' },
    );
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    const spans = await spansFor(`trace_id=${traceId}`, (s) => edgeSpans(s).some((e) => e.name === 'POST /v1/jobs') && adapterSpans(s).length >= 3);
    const root = named(edgeSpans(spans), 'POST /v1/jobs');
    expect(root).toMatchObject({ traceId, parentSpanId: clientSpan });
    const invocation = named(adapterSpans(spans), 'POST /invoke');
    expect(invocation).toMatchObject({ traceId, parentSpanId: root.spanId });
    // The job's call carries the job's id as its request id, and the trace reaches the container.
    expect(invocation.attributes[A.requestId]).toBe(id);
    const [atContainer] = await received(id);
    expect(parseTraceparent(atContainer?.traceparent)).toEqual({ traceId, spanId: named(adapterSpans(spans), 'invoke').spanId, sampled: true });
  });

  it('starts a trace for a request with an invalid traceparent, and a stream’s spans carry its usage once it ends', async () => {
    const { key } = await seedTenantKey();
    const requestId = `req-trace-${crypto.randomUUID()}`;
    const res = await post(
      '/v1/infer/stream',
      key,
      { model, prompt: unique('trace stream'), params: { max_tokens: 6, temperature: 0 } },
      { traceparent: '00-not-a-valid-traceparent-01', 'x-request-id': requestId },
    );
    expect(res.status).toBe(200);
    await res.text();
    const spans = await spansFor(`request_id=${requestId}`, (s) => edgeSpans(s).length === 6 && adapterSpans(s).length === 4);
    const root = named(edgeSpans(spans), 'POST /v1/infer/stream');
    expect(root.parentSpanId).toBeUndefined();
    expect(root.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root.attributes).toMatchObject({ [A.stream]: true, [A.genAiOutputTokens]: 6 });
    // The root ends when the stream settles, after the upstream span (time to the first event).
    expect(root.endMs).toBeGreaterThanOrEqual(named(edgeSpans(spans), 'upstream').endMs);
    expect(named(adapterSpans(spans), 'first_token').parentSpanId).toBe(named(adapterSpans(spans), 'invoke').spanId);
    const [atContainer] = await received(requestId);
    expect(parseTraceparent(atContainer?.traceparent)?.traceId).toBe(root.traceId);
  });

  it("sends an isolate's spans in batches: 20 concurrent requests' spans all reach the collector, in far fewer POSTs", async () => {
    const { key } = await seedTenantKey();
    const sinkStats = async () => ((await (await fetch(`${sinkUrl}/api/stats`)).json()) as { traceRequests: number }).traceRequests;
    const before = await sinkStats();
    const traceIds = Array.from({ length: 20 }, () => newTraceId());
    // Refused at validation (no prompt): the edge's spans only, no adapter call to export its own.
    const answers = await Promise.all(
      traceIds.map((traceId) =>
        post('/v1/infer', key, { model }, { traceparent: `00-${traceId}-${newSpanId()}-01` }).then(async (r) => {
          await r.text();
          return r.status;
        }),
      ),
    );
    expect(answers.every((status) => status === 400)).toBe(true);
    for (const traceId of traceIds) {
      const spans = await spansFor(`trace_id=${traceId}`, (s) => edgeSpans(s).some((span) => span.name === 'POST /v1/infer'));
      expect(named(edgeSpans(spans), 'POST /v1/infer').attributes[A.httpStatus]).toBe(400);
    }
    // One export per request would be 20 POSTs.
    expect(await sinkStats()).toBeLessThanOrEqual(before + 5);
  });

  it("exports nothing for a client's unsampled trace, and passes it on unsampled", async () => {
    const { key } = await seedTenantKey();
    const traceId = newTraceId();
    const requestId = `req-trace-${crypto.randomUUID()}`;
    const res = await post(
      '/v1/infer',
      key,
      { model, prompt: unique('unsampled'), params: { max_tokens: 3 } },
      { traceparent: `00-${traceId}-${newSpanId()}-00`, 'x-request-id': requestId },
    );
    expect(res.status).toBe(200);
    await res.text();
    const [atContainer] = await received(requestId);
    expect(parseTraceparent(atContainer?.traceparent)).toMatchObject({ traceId, sampled: false });
    await new Promise((r) => setTimeout(r, 300));
    expect(await spansFor(`trace_id=${traceId}`, () => true)).toEqual([]);
  });

  it('samples new traces at TRACES_SAMPLE_RATIO (0: none exported, the container told unsampled) and refuses bad trace settings', async () => {
    const { key } = await seedTenantKey();
    const app = createApp({ health: new BackendHealth(), metrics: new IsolateMetrics() });
    const requestId = `req-trace-${crypto.randomUUID()}`;
    const bindings = { ...(env as unknown as Bindings), TRACES_SAMPLE_RATIO: '0' };
    const ctx = createExecutionContext();
    const res = await app.request(
      '/v1/infer',
      {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId },
        body: JSON.stringify({ model, prompt: unique('ratio 0'), params: { max_tokens: 2 } }),
      },
      bindings,
      ctx,
    );
    expect(res.status).toBe(200);
    await res.text();
    await waitOnExecutionContext(ctx);
    const [atContainer] = await received(requestId);
    expect(parseTraceparent(atContainer?.traceparent)?.sampled).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(await spansFor(`request_id=${requestId}`, () => true)).toEqual([]);

    expect(() => getConfig({ ...(env as unknown as Bindings), TRACES_SAMPLE_RATIO: '1.5', TRACES_ENDPOINT: 'collector:4318' })).toThrow(
      /traces\.endpoint.*traces\.sampleRatio|traces\.sampleRatio.*traces\.endpoint/,
    );
  });

  it('answers at once and in full when the collector is slow or down; the export gives up at its timeout', async () => {
    const { key } = await seedTenantKey();
    const jwks = inject('jwksServerUrl');
    const slowPath = `/slow-collector-${crypto.randomUUID()}/v1/traces`;
    await fetch(`${jwks}/_admin?path=${slowPath}`, { method: 'PUT', body: JSON.stringify({ delayMs: 5_000 }) });
    const app = createApp({ health: new BackendHealth(), metrics: new IsolateMetrics() });
    let baseline = { answeredMs: 0, backgroundMs: 0 };
    for (const [name, endpoint] of [
      ['none', ''],
      ['slow', `${jwks}${slowPath}`],
      ['down', 'http://127.0.0.1:9/v1/traces'],
    ] as const) {
      const bindings = { ...(env as unknown as Bindings), TRACES_ENDPOINT: endpoint || undefined, TRACES_TIMEOUT_MS: '300', METRICS_ENDPOINT: 'off' };
      const ctx = createExecutionContext();
      const started = Date.now();
      const res = await app.request(
        '/v1/infer',
        {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, prompt: unique(name), params: { max_tokens: 3 } }),
        },
        bindings,
        ctx,
      );
      const body = (await res.json()) as { output?: string };
      const answeredMs = Date.now() - started;
      expect(res.status, name).toBe(200);
      expect(body.output, name).toBeTruthy();
      await waitOnExecutionContext(ctx);
      const backgroundMs = Date.now() - started - answeredMs;
      console.warn(`${name} collector: answered after ${answeredMs} ms, background done ${backgroundMs} ms later`);
      if (name === 'none') {
        baseline = { answeredMs, backgroundMs };
        continue;
      }
      // Against the same request without a collector: no later answer, and an export bounded by
      // TRACES_TIMEOUT_MS (300 ms), not by the collector's 5 s (slack for a loaded machine, well short of it).
      expect(answeredMs, name).toBeLessThan(baseline.answeredMs + 2_000);
      expect(backgroundMs, name).toBeLessThan(baseline.backgroundMs + 300 + 2_000);
    }
    const hits = (await (await fetch(`${jwks}/_admin?path=${slowPath}`)).json()) as { hits: number };
    expect(hits.hits).toBe(1);
  });
});
