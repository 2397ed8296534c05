/**
 * The local metrics sink as the trace collector: OTLP/HTTP JSON from the edge's encoder and from
 * the adapters' OpenTelemetry SDK exporter is stored, other encodings are refused with a reason,
 * and one request's spans come back by request id, as JSON and as a timeline page.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeOtlpTraces, SPAN_KIND } from '../../shared/contracts/otlp';
import { newSpanId, newTraceId, SPAN_ATTR } from '../../shared/contracts/trace';
import { startMetricsSink, type MetricsSink } from './server';
import { TraceStore } from './traces';

let sink: MetricsSink;
beforeAll(async () => {
  sink = await startMetricsSink({ port: 0, region: 'us-east-1', credentials: [] });
});
afterAll(async () => sink?.close());

const postTraces = (body: string, type = 'application/json') => fetch(`${sink.url}/v1/traces`, { method: 'POST', headers: { 'content-type': type }, body });

describe('metrics sink traces', () => {
  it('stores the edge encoding and finds the trace by request id, children under their parent', async () => {
    const traceId = newTraceId();
    const root = newSpanId();
    const child = newSpanId();
    const t0 = Date.now();
    const body = encodeOtlpTraces({ serviceName: 'edge', environment: 'local' }, 'edge', [
      {
        traceId,
        spanId: root,
        name: 'POST /v1/infer',
        kind: SPAN_KIND.server,
        startMs: t0,
        endMs: t0 + 50,
        attributes: { [SPAN_ATTR.requestId]: 'req-sink-1', [SPAN_ATTR.genAiInputTokens]: 12 },
      },
      {
        traceId,
        spanId: child,
        parentSpanId: root,
        name: 'upstream',
        kind: SPAN_KIND.client,
        startMs: t0 + 10.5,
        endMs: t0 + 40,
        attributes: {},
        error: 'UPSTREAM_ERROR',
      },
    ]);
    expect((await postTraces(body)).status).toBe(200);
    const found = (await (await fetch(`${sink.url}/api/traces?request_id=req-sink-1`)).json()) as Array<{
      traceId: string;
      spans: Array<Record<string, unknown>>;
    }>;
    expect(found).toHaveLength(1);
    expect(found[0]!.traceId).toBe(traceId);
    expect(found[0]!.spans.map((s) => [s.name, s.parentSpanId, s.service, s.statusCode])).toEqual([
      ['POST /v1/infer', undefined, 'edge', 0],
      ['upstream', root, 'edge', 2],
    ]);
    expect(found[0]!.spans[0]!.attributes).toMatchObject({ [SPAN_ATTR.genAiInputTokens]: 12 });
    expect(found[0]!.spans[1]!.startMs).toBeCloseTo(t0 + 10.5, 3);

    const page = await (await fetch(`${sink.url}/traces?request_id=req-sink-1`)).text();
    expect(page).toContain(`data-trace-id="${traceId}"`);
    expect(page).toMatch(
      new RegExp(`data-span-id="${child}" data-parent-id="${root}" data-service="edge" data-name="upstream" data-start-ms="10.500" data-duration-ms="29.500"`),
    );
    expect(page).not.toMatch(/<script/);
  });

  it('stores what the OpenTelemetry SDK exporter sends', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'sdk-adapter' }),
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${sink.url}/v1/traces` }))],
    });
    const span = provider
      .getTracer('test')
      .startSpan('invoke', { kind: SpanKind.SERVER, attributes: { [SPAN_ATTR.requestId]: 'req-sink-sdk', [SPAN_ATTR.genAiOutputTokens]: 7 } });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
    span.end();
    await provider.forceFlush();
    await provider.shutdown();
    const found = (await (await fetch(`${sink.url}/api/traces?request_id=req-sink-sdk`)).json()) as Array<{
      traceId: string;
      spans: Array<Record<string, unknown>>;
    }>;
    expect(found[0]?.traceId).toBe(span.spanContext().traceId);
    expect(found[0]?.spans[0]).toMatchObject({
      name: 'invoke',
      service: 'sdk-adapter',
      kind: 2,
      statusCode: 2,
      attributes: { [SPAN_ATTR.genAiOutputTokens]: 7 },
    });
    expect(trace.getActiveSpan()).toBeUndefined();
  });

  it('refuses protobuf and malformed bodies with a reason, and says when a request has no spans yet', async () => {
    const proto = await postTraces('\x0a\x00', 'application/x-protobuf');
    expect(proto.status).toBe(415);
    expect(await proto.text()).toContain('OTLP/HTTP JSON');
    const bad = await postTraces(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'zz' }] }] }] }));
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('traceId');
    const dashboard = await (await fetch(`${sink.url}/?refresh=0`)).text();
    expect(dashboard).toContain('<form action="/traces"');
    const page = await (await fetch(`${sink.url}/traces?request_id=nobody`)).text();
    expect(page).toContain('no spans for request nobody');
    expect(sink.stats()).toMatchObject({ traceRejected: 2 });
  });
});

describe('TraceStore bound', () => {
  const span = (i: number) => ({ traceId: `t${i}`, spanId: `s${i}`, name: 'x', kind: 1, service: 'svc', startMs: i, endMs: i, attributes: {}, statusCode: 0 });

  it('keeps the newest spans, never more than a quarter over its bound, and finds them', () => {
    const store = new TraceStore(100);
    let peak = 0;
    for (let i = 0; i < 1_000; i += 1) {
      store.add([span(i)]);
      peak = Math.max(peak, store.size);
    }
    expect(peak).toBe(125);
    expect(store.size).toBeGreaterThanOrEqual(100);
    expect(store.trace('t999')).toHaveLength(1);
    expect(store.trace(`t${1_000 - store.size - 1}`)).toEqual([]);
    expect(store.trace(`t${1_000 - store.size}`)).toHaveLength(1);
  });
});
