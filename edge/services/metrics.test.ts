import { describe, expect, it } from 'vitest';
import { IsolateMetrics, MAX_SERIES } from './metrics';

describe('IsolateMetrics', () => {
  it('sums counters per metric and dimension set, and drains them once', () => {
    const m = new IsolateMetrics();
    m.count('Requests', { Route: '/v1/infer', StatusClass: '2xx' });
    m.count('Requests', { StatusClass: '2xx', Route: '/v1/infer' }, 2);
    m.count('Requests', { Route: '/v1/infer', StatusClass: '4xx' });
    const drained = m.drain();
    expect(drained).toHaveLength(2);
    expect(drained.find((s) => s.dimensions.StatusClass === '2xx')?.values).toEqual([3]);
    expect(m.drain()).toEqual([]);
  });

  it('keeps latency distributions as bucketed values with counts', () => {
    const m = new IsolateMetrics();
    for (const v of [1.2, 1.4, 250, 251, 252, 9000]) m.observe('Latency', v);
    const [series] = m.drain();
    expect(series?.kind).toBe('distribution');
    expect(series?.counts.reduce((a, b) => a + b, 0)).toBe(6);
    expect(series?.values).toContain(1);
    expect(series?.values.length).toBeLessThan(6);
  });

  it('bounds the number of series and counts what it drops', () => {
    const m = new IsolateMetrics();
    for (let i = 0; i < MAX_SERIES + 10; i++) m.count('Requests', { Backend: `b${i}` });
    expect(m.size).toBe(MAX_SERIES);
    expect(m.dropped).toBe(10);
  });
});
