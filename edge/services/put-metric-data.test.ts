/**
 * PutMetricData encoding: the dimension sets of the metrics catalog, latencies as Values/Counts,
 * and the API's limits (1000 datums per call, 150 values per datum, the payload size).
 */
import { describe, expect, it } from 'vitest';
import { IsolateMetrics } from './metrics';
import { batchPutMetricData, encodePutMetricData, PUT_METRIC_DATA_LIMITS, toDatums, type MetricDatum } from './put-metric-data';

const T = Date.UTC(2026, 0, 2, 3, 4, 5);
const dimsOf = (d: MetricDatum) => Object.fromEntries(d.dimensions.map((x) => [x.name, x.value]));
const sumOf = (d: MetricDatum) => d.values.reduce((s, v, i) => s + v * (d.counts[i] ?? 1), 0);

/** Members of a form body: datum index → its fields. */
function membersOf(body: string): Map<number, Record<string, string>> {
  const members = new Map<number, Record<string, string>>();
  for (const [key, value] of new URLSearchParams(body)) {
    const m = /^MetricData\.member\.(\d+)\.(.+)$/.exec(key);
    if (m) members.set(Number(m[1]), { ...members.get(Number(m[1])), [m[2]!]: value });
  }
  return members;
}

describe('toDatums', () => {
  it('publishes each counter with Environment alone and with every breakdown set of the catalog', () => {
    const m = new IsolateMetrics();
    m.count('Requests', { Route: '/v1/infer', StatusClass: '2xx' }, 5);
    m.count('Requests', { Route: '/v1/infer', StatusClass: '4xx', Code: 'UNAUTHORIZED' }, 3);
    m.count('Requests', { Route: '/v1/models', StatusClass: '4xx', Code: 'UNAUTHORIZED' });
    const datums = toDatums(m.drain(), 'staging', T);
    const find = (dims: Record<string, string>) => datums.filter((d) => JSON.stringify(dimsOf(d)) === JSON.stringify({ Environment: 'staging', ...dims }));
    expect(find({}).map(sumOf)).toEqual([9]);
    expect(find({ StatusClass: '4xx' }).map(sumOf)).toEqual([4]);
    expect(find({ StatusClass: '2xx' }).map(sumOf)).toEqual([5]);
    expect(find({ Route: '/v1/infer', StatusClass: '4xx' }).map(sumOf)).toEqual([3]);
    expect(find({ Code: 'UNAUTHORIZED' }).map(sumOf)).toEqual([4]);
    // 1 + 2 status classes + 3 route/status pairs + 1 code; never a set the catalog does not list.
    expect(datums).toHaveLength(7);
    expect(datums.every((d) => d.unit === 'Count' && d.timestamp === T)).toBe(true);
    console.warn(`8 requests over 3 series became ${datums.length} datums`);
  });

  it('sends latencies as Values/Counts in milliseconds, at most 150 values per datum', () => {
    const m = new IsolateMetrics();
    // 100 + 150 distinct values on two routes: 250 in the Environment-only series.
    for (let i = 0; i < 150; i++) {
      if (i < 100) m.observe('Latency', i, { Route: '/v1/infer' });
      m.observe('Latency', 1_000 + i * 40, { Route: '/v1/chat/completions' });
      m.observe('Latency', 1_000 + i * 40, { Route: '/v1/chat/completions' });
    }
    const datums = toDatums(m.drain(), 'dev', T);
    const overall = datums.filter((d) => Object.keys(dimsOf(d)).length === 1);
    expect(overall.length).toBeGreaterThan(1);
    for (const d of datums) {
      expect(d.unit).toBe('Milliseconds');
      expect(d.values.length).toBeLessThanOrEqual(PUT_METRIC_DATA_LIMITS.maxValuesPerDatum);
      expect(d.counts).toHaveLength(d.values.length);
    }
    expect(overall.reduce((n, d) => n + d.counts.reduce((a, b) => a + b, 0), 0)).toBe(400);
    const chat = datums.filter((d) => dimsOf(d).Route === '/v1/chat/completions');
    expect(chat.flatMap((d) => d.counts).every((c) => c === 2)).toBe(true);
  });

  it('skips a breakdown set whose dimension the series does not carry', () => {
    const m = new IsolateMetrics();
    m.count('AuthFailures');
    m.count('BreakerTransitions', { Backend: 'a', State: 'open' });
    const datums = toDatums(m.drain(), 'dev', T);
    expect(datums.map((d) => `${d.metricName} ${Object.keys(dimsOf(d)).join(',')}`).sort()).toEqual([
      'AuthFailures Environment',
      'BreakerTransitions Environment,Backend,State',
      'BreakerTransitions Environment,State',
    ]);
  });
});

describe('encodePutMetricData / batchPutMetricData', () => {
  const datum = (i: number): MetricDatum => ({
    metricName: 'Requests',
    dimensions: [
      { name: 'Environment', value: 'dev' },
      { name: 'Route', value: `/v1/r${i}` },
    ],
    timestamp: T,
    unit: 'Count',
    values: [i],
    counts: [1],
  });

  it('encodes the Query protocol fields CloudWatch reads', () => {
    const body = encodePutMetricData([{ ...datum(7), unit: 'Milliseconds', values: [12, 250], counts: [3, 1] }]);
    const form = new URLSearchParams(body);
    expect(form.get('Action')).toBe('PutMetricData');
    expect(form.get('Version')).toBe('2010-08-01');
    expect(form.get('Namespace')).toBe('InferenceGateway/Edge');
    expect(Object.fromEntries([...form].filter(([k]) => k.startsWith('MetricData')))).toEqual({
      'MetricData.member.1.MetricName': 'Requests',
      'MetricData.member.1.Timestamp': '2026-01-02T03:04:05.000Z',
      'MetricData.member.1.Unit': 'Milliseconds',
      'MetricData.member.1.Dimensions.member.1.Name': 'Environment',
      'MetricData.member.1.Dimensions.member.1.Value': 'dev',
      'MetricData.member.1.Dimensions.member.2.Name': 'Route',
      'MetricData.member.1.Dimensions.member.2.Value': '/v1/r7',
      'MetricData.member.1.Values.member.1': '12',
      'MetricData.member.1.Values.member.2': '250',
      'MetricData.member.1.Counts.member.1': '3',
      'MetricData.member.1.Counts.member.2': '1',
    });
  });

  it('puts at most 1000 datums in one request, and every datum in exactly one', () => {
    const datums = Array.from({ length: 2_500 }, (_, i) => datum(i));
    const batches = batchPutMetricData(datums);
    expect(batches.map((b) => b.datums.length)).toEqual([1000, 1000, 500]);
    const routes = batches.flatMap((b) => [...membersOf(b.body).values()].map((f) => f['Dimensions.member.2.Value']));
    expect(new Set(routes).size).toBe(2_500);
    for (const b of batches) expect(b.body.length).toBeLessThanOrEqual(PUT_METRIC_DATA_LIMITS.maxPayloadBytes);
    console.warn(`2500 datums → ${batches.length} requests, largest ${Math.max(...batches.map((b) => b.body.length))} bytes`);
  });

  it('splits on the payload size, renumbering members from 1 in each request', () => {
    const datums = Array.from({ length: 300 }, (_, i) => datum(i));
    const limits = { ...PUT_METRIC_DATA_LIMITS, maxPayloadBytes: 4_000 };
    const batches = batchPutMetricData(datums, 'InferenceGateway/Edge', limits);
    expect(batches.length).toBeGreaterThan(5);
    for (const b of batches) {
      expect(b.body.length).toBeLessThanOrEqual(4_000);
      expect([...membersOf(b.body).keys()]).toEqual(Array.from({ length: b.datums.length }, (_, i) => i + 1));
    }
    expect(batches.reduce((n, b) => n + b.datums.length, 0)).toBe(300);
  });
});
