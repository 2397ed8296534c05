/**
 * The isolate's span batching (SpanBatcher): pure logic, with a recording `send` in place of the
 * collector; and the export itself against the local collector (the metrics sink).
 */
import { describe, expect, inject, it } from 'vitest';
import { SPAN_KIND, type SpanRecord } from '../../shared/contracts/otlp';
import { newSpanId, newTraceId } from '../../shared/contracts/trace';
import { exportSpans, SpanBatcher, type TraceTarget } from './tracing';

const target: TraceTarget = { endpoint: 'http://collector.test/v1/traces', timeoutMs: 100, environment: 'test' };
const spans = (traceId: string, n = 2): SpanRecord[] =>
  Array.from({ length: n }, (_, i) => ({ traceId, spanId: `${traceId}-${i}`, name: 'x', kind: SPAN_KIND.internal, startMs: 0, endMs: 1, attributes: {} }));

function recorder() {
  const sent: Array<{ target: TraceTarget; traceIds: string[] }> = [];
  return { sent, send: async (t: TraceTarget, batch: readonly SpanRecord[]) => void sent.push({ target: t, traceIds: batch.map((s) => s.traceId) }) };
}

describe('SpanBatcher', () => {
  it('sends what requests queue within the linger in one export, from the first request only, building spans at export time', async () => {
    const { sent, send } = recorder();
    const batcher = new SpanBatcher({ lingerMs: 30, send });
    let built = 0;
    const build = (id: string) => () => {
      built++;
      return spans(id);
    };
    const first = batcher.add(target, build('a'));
    expect(first).toBeInstanceOf(Promise);
    expect(batcher.add(target, build('b'))).toBeUndefined();
    expect(batcher.add(target, build('c'))).toBeUndefined();
    expect(built).toBe(0);
    await first;
    expect(sent).toEqual([{ target, traceIds: ['a', 'a', 'b', 'b', 'c', 'c'] }]);
    // After the export, the next request schedules a batch of its own.
    const next = batcher.add(target, build('d'));
    expect(next).toBeInstanceOf(Promise);
    await next;
    expect(sent.map((s) => s.traceIds)).toEqual([
      ['a', 'a', 'b', 'b', 'c', 'c'],
      ['d', 'd'],
    ]);
  });

  it('keeps targets apart, sends a full batch at once from the request that filled it, and splits its spans into exports', async () => {
    const { sent, send } = recorder();
    const batcher = new SpanBatcher({ lingerMs: 50, maxSpansPerExport: 3, maxRequestsPerBatch: 3, send });
    const other: TraceTarget = { ...target, environment: 'other' };
    const opened = batcher.add(target, () => spans('a'));
    const otherOpened = batcher.add(other, () => spans('z', 1));
    expect(batcher.add(target, () => spans('b'))).toBeUndefined();
    const filled = batcher.add(target, () => spans('c'));
    expect(filled).toBeInstanceOf(Promise);
    await filled;
    // Three requests' six spans, in exports of at most three, before the linger ends.
    expect(sent.map((s) => s.traceIds)).toEqual([
      ['a', 'a', 'b'],
      ['b', 'c', 'c'],
    ]);
    // The opener's linger then ends without a second export (its batch already left); the other target's leaves on its own.
    await Promise.all([opened, otherOpened]);
    expect(sent.map((s) => [s.target.environment, s.traceIds])).toEqual([
      ['test', ['a', 'a', 'b']],
      ['test', ['b', 'c', 'c']],
      ['other', ['z']],
    ]);
  });
});

describe('exportSpans', () => {
  it('delivers each batch and keeps one connection to the collector for consecutive exports', async () => {
    const sink = inject('metricsSinkUrl');
    const stats = async () => (await (await fetch(`${sink}/api/stats`)).json()) as { traceRequests: number; spans: number; connections: number };
    const collector: TraceTarget = { endpoint: `${sink}/v1/traces`, timeoutMs: 2_000, environment: 'test' };
    const before = await stats();
    const valid = (): SpanRecord[] => {
      const traceId = newTraceId();
      return Array.from({ length: 3 }, () => ({
        traceId,
        spanId: newSpanId(),
        name: 'export',
        kind: SPAN_KIND.internal,
        startMs: Date.now(),
        endMs: Date.now() + 1,
        attributes: {},
      }));
    };
    for (let i = 0; i < 6; i += 1) await exportSpans(collector, valid());
    const after = await stats();
    expect(after.traceRequests - before.traceRequests).toBe(6);
    expect(after.spans - before.spans).toBe(18);
    // A cancelled response body costs its connection: each export would then open a new one (6 here).
    expect(after.connections - before.connections).toBeLessThanOrEqual(1);
  });
});
