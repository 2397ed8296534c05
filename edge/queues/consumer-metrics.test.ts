/**
 * The consumers' metrics (a job's backend calls) reach the metrics sink the way the request metrics
 * do: aggregated in the isolate and flushed, SigV4-signed, from the batch's `waitUntil`.
 */
import { env } from 'cloudflare:test';
import { describe, expect, inject, it } from 'vitest';
import { isolateServices } from '../services/isolate';
import { IsolateMetrics, type Dimensions } from '../services/metrics';
import { MetricsFlusher } from '../services/metrics-flush';
import { consumer, seedJob, storedJob } from '../testing/queue-consumer';

const sinkUrl = inject('metricsSinkUrl');

interface SinkPoint {
  metric: string;
  dimensions: Record<string, string>;
  values: number[];
  counts: number[];
}

async function pointsOf(environment: string): Promise<SinkPoint[]> {
  const res = await fetch(`${sinkUrl}/api/datapoints?namespace=${encodeURIComponent('InferenceGateway/Edge')}`);
  return ((await res.json()) as SinkPoint[]).filter((p) => p.dimensions.Environment === environment);
}

/** The isolate aggregate, also tallying what the consumer recorded. */
class TalliedMetrics extends IsolateMetrics {
  readonly tally = new Map<string, number>();
  override count(metric: Parameters<IsolateMetrics['count']>[0], dimensions?: Dimensions, value = 1): void {
    this.tally.set(metric, (this.tally.get(metric) ?? 0) + value);
    super.count(metric, dimensions, value);
  }
  override observe(metric: Parameters<IsolateMetrics['observe']>[0], value: number, dimensions?: Dimensions): void {
    this.tally.set(metric, (this.tally.get(metric) ?? 0) + 1);
    super.observe(metric, value, dimensions);
  }
}

describe('consumer metrics', () => {
  it("flushes a job's backend metrics to the sink from the batch's waitUntil", async () => {
    const metrics = new TalliedMetrics();
    const attempt = consumer(isolateServices({ metrics, metricsFlusher: new MetricsFlusher({ metrics }) }));
    const environment = `queue-${crypto.randomUUID().slice(0, 8)}`;
    const bindings = { ...(env as Record<string, unknown>), ENVIRONMENT: environment, METRICS_FLUSH_INTERVAL_MS: '100' };
    const { job, message } = await seedJob();
    const result = await attempt('gw-jobs-standard-local', crypto.randomUUID(), 1, message, bindings);
    expect(result.acked).toHaveLength(1);
    expect((await storedJob(job.id))?.status).toBe('succeeded');
    // getQueueResult waited for the flush: the sink has the job's call, and the isolate aggregate is drained.
    const points = await pointsOf(environment);
    // Each series is published with Environment alone and per breakdown: count the Environment-only datum.
    const overall = (metric: string) => points.filter((p) => p.metric === metric && Object.keys(p.dimensions).length === 1);
    const requests = overall('BackendRequests').reduce((n, p) => n + (p.values[0] ?? 0), 0);
    const latencies = overall('UpstreamLatency').reduce((n, p) => n + p.counts.reduce((a, b) => a + b, 0), 0);
    console.warn(
      `consumer metrics in the sink for ${environment}: BackendRequests ${requests}, UpstreamLatency samples ${latencies}, left in the isolate ${metrics.size}`,
    );
    expect(requests).toBeGreaterThanOrEqual(1);
    expect(requests).toBe(metrics.tally.get('BackendRequests'));
    expect(latencies).toBe(metrics.tally.get('UpstreamLatency'));
    expect(metrics.size).toBe(0);
  });
});
