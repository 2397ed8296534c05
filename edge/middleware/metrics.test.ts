/**
 * Request metrics in workerd against the local stack's metrics sink: a request's Requests (by route
 * pattern, status class, code), Latency, AuthFailures and tokens are recorded and flushed in
 * `waitUntil` with a SigV4-signed PutMetricData the sink verifies; an unreachable endpoint changes
 * nothing for the client and keeps the datums for the next flush.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { createApp } from '../app';
import type { Bindings } from '../env';
import { IsolateMetrics } from '../services/metrics';
import { MetricsFlusher } from '../services/metrics-flush';

const sinkUrl = inject('metricsSinkUrl');
const apiKey = inject('apiKey');
const model = inject('model');

interface SinkPoint {
  metric: string;
  dimensions: Record<string, string>;
  values: number[];
  counts: number[];
}

/** An app with its own metrics and flusher, publishing under a unique Environment. */
function isolatedApp(vars: Partial<Bindings> = {}) {
  const metrics = new IsolateMetrics();
  const flusher = new MetricsFlusher({ metrics });
  const environment = `mw-${crypto.randomUUID().slice(0, 8)}`;
  const bindings = { ...(env as unknown as Bindings), ENVIRONMENT: environment, METRICS_FLUSH_INTERVAL_MS: '100', ...vars };
  const app = createApp({ metrics, metricsFlusher: flusher });
  const call = async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext();
    const res = await app.request(path, init, bindings, ctx);
    const body = await res.text();
    await waitOnExecutionContext(ctx);
    return { status: res.status, body };
  };
  return { environment, flusher, call };
}

async function pointsOf(environment: string): Promise<SinkPoint[]> {
  const res = await fetch(`${sinkUrl}/api/datapoints?namespace=${encodeURIComponent('InferenceGateway/Edge')}`);
  return ((await res.json()) as SinkPoint[]).filter((p) => p.dimensions.Environment === environment);
}

const sum = (points: SinkPoint[], metric: string, dims: Record<string, string> = {}) =>
  points
    .filter((p) => p.metric === metric && JSON.stringify(Object.keys(p.dimensions).sort()) === JSON.stringify(['Environment', ...Object.keys(dims)].sort()))
    .filter((p) => Object.entries(dims).every(([k, v]) => p.dimensions[k] === v))
    .reduce((n, p) => n + p.values.reduce((s, v, i) => s + v * (p.counts[i] ?? 1), 0), 0);

describe('request metrics', () => {
  it('records a request and flushes it in waitUntil to the sink, SigV4-signed', async () => {
    const { environment, call } = isolatedApp();
    const infer = (key: string) =>
      call('/v1/infer', {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt: 'metrics please', params: { max_tokens: 5 } }),
      });
    const statsBefore = (await (await fetch(`${sinkUrl}/api/stats`)).json()) as { putRequests: number; putRejected: number };
    // The first request of an isolate flushes at once; a short interval lets the next ones flush too.
    const ok = await infer(apiKey);
    expect(ok.status, ok.body).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    const denied = await infer('gw_test_not-a-real-key');
    expect(denied.status).toBe(401);
    await new Promise((r) => setTimeout(r, 150));
    expect((await call('/v1/no/such/route/42')).status).toBe(404);

    const points = await pointsOf(environment);
    const stats = (await (await fetch(`${sinkUrl}/api/stats`)).json()) as { putRequests: number; putRejected: number };
    expect(sum(points, 'Requests')).toBe(3);
    expect(sum(points, 'Requests', { Route: '/v1/infer', StatusClass: '2xx' })).toBe(1);
    expect(sum(points, 'Requests', { Route: '/v1/infer', StatusClass: '4xx' })).toBe(1);
    expect(sum(points, 'Requests', { Code: 'UNAUTHORIZED' })).toBe(1);
    expect(sum(points, 'Requests', { Code: 'NOT_FOUND' })).toBe(1);
    expect(sum(points, 'AuthFailures')).toBe(1);
    expect(sum(points, 'CompletionTokens')).toBe(5);
    expect(sum(points, 'PromptTokens')).toBeGreaterThan(0);
    // Route is the matched pattern, never the raw path.
    const routes = new Set(points.map((p) => p.dimensions.Route).filter(Boolean));
    expect([...routes].sort()).toEqual(['/v1/infer', 'unmatched']);
    const latency = points.filter((p) => p.metric === 'Latency' && Object.keys(p.dimensions).length === 1);
    expect(latency.reduce((n, p) => n + p.counts.reduce((a, b) => a + b, 0), 0)).toBe(3);
    expect(stats.putRequests - statsBefore.putRequests).toBeGreaterThanOrEqual(3);
    expect(stats.putRejected).toBe(statsBefore.putRejected);
    console.warn(`3 requests → ${points.length} datapoints in the sink over ${stats.putRequests - statsBefore.putRequests} signed PutMetricData calls`);
  });

  it('answers normally when the endpoint is down, and keeps the datums for the next flush', async () => {
    const { flusher, call } = isolatedApp({ METRICS_ENDPOINT: 'http://127.0.0.1:9/' });
    const res = await call('/v1/infer', {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'still served', params: { max_tokens: 3 } }),
    });
    expect(res.status, res.body).toBe(200);
    expect(flusher.pending).toBeGreaterThan(0);
    console.warn(`endpoint down: request answered 200, ${flusher.pending} datums kept for retry`);
  });

  it('is refused by the sink when signed with a key it does not know', async () => {
    const { environment, flusher, call } = isolatedApp({ AWS_ACCESS_KEY_ID: 'AKIAUNKNOWN0000', AWS_SECRET_ACCESS_KEY: 'nope' });
    // The backend call fails SigV4 too (same key), which is fine: only the metrics path matters here.
    await call('/v1/models', { headers: { authorization: `Bearer ${apiKey}` } });
    expect(await pointsOf(environment)).toEqual([]);
    expect(flusher.pending).toBeGreaterThan(0);
  });
});
