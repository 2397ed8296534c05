/** The isolate's span batching (SpanBatcher): pure logic, with a recording `send` in place of the collector. */
import { describe, expect, it } from 'vitest';
import { SPAN_KIND, type SpanRecord } from '../../shared/contracts/otlp';
import { SpanBatcher, type TraceTarget } from './tracing';

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

  it('keeps targets apart, splits a large batch, and drops (and counts) requests over its bound', async () => {
    const { sent, send } = recorder();
    const batcher = new SpanBatcher({ lingerMs: 10, maxSpansPerExport: 3, maxQueuedRequests: 3, send });
    const other: TraceTarget = { ...target, environment: 'other' };
    const flushes = [batcher.add(target, () => spans('a')), batcher.add(other, () => spans('z', 1))];
    for (const id of ['b', 'c', 'd', 'e']) expect(batcher.add(target, () => spans(id))).toBeUndefined();
    await Promise.all(flushes);
    expect(sent.filter((s) => s.target === other).map((s) => s.traceIds)).toEqual([['z']]);
    // Three requests kept (a, b, c: six spans) in exports of at most three spans; d and e dropped.
    expect(sent.filter((s) => s.target === target).map((s) => s.traceIds)).toEqual([
      ['a', 'a', 'b'],
      ['b', 'c', 'c'],
    ]);
  });
});
