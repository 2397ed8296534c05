/**
 * The local metrics sink as CloudWatch's stand-in: PutMetricData signed by aws4fetch (service
 * `monitoring`) is stored, unsigned or tampered calls are refused, the API's limits are enforced,
 * EMF lines become datapoints, and the dashboard page draws them.
 */
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePutMetricData, type MetricDatum } from '../../edge/services/put-metric-data';
import { startMetricsSink, type MetricsSink } from './server';
import { statistic } from './store';

const credentials = { accessKeyId: 'AKIASINKTEST', secretAccessKey: 'sink-test-secret' };
let sink: MetricsSink;

beforeAll(async () => {
  sink = await startMetricsSink({ port: 0, region: 'us-east-1', credentials: [credentials], environment: 'dev' });
});
afterAll(async () => sink?.close());

const signer = (secret = credentials.secretAccessKey) =>
  new AwsClient({ ...credentials, secretAccessKey: secret, service: 'monitoring', region: 'us-east-1', retries: 0 });
const datum = (over: Partial<MetricDatum> = {}): MetricDatum => ({
  metricName: 'Latency',
  dimensions: [{ name: 'Environment', value: 'dev' }],
  timestamp: Date.now(),
  unit: 'Milliseconds',
  values: [10, 20, 300],
  counts: [90, 5, 5],
  ...over,
});
const put = (body: string, client = signer()) =>
  client.fetch(`${sink.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

describe('metrics sink', () => {
  it('stores a signed PutMetricData call with Values/Counts, so percentiles work', async () => {
    const res = await put(encodePutMetricData([datum()]));
    expect(res.status, await res.text()).toBe(200);
    const points = sink.store.select({ namespace: 'InferenceGateway/Edge', metric: 'Latency', dimensionNames: ['Environment'] });
    expect(statistic(points, 'p50')).toBe(10);
    expect(statistic(points, 'p95')).toBe(20);
    expect(statistic(points, 'p99')).toBe(300);
    expect(statistic(points, 'SampleCount')).toBe(100);
  });

  it('refuses unsigned, wrongly signed and tampered calls with 403', async () => {
    const body = encodePutMetricData([datum({ metricName: 'Requests', unit: 'Count', values: [1], counts: [1] })]);
    const before = sink.stats().putRequests;
    const unsigned = await fetch(`${sink.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.text()).toContain('<Code>AccessDeniedException</Code>');
    expect((await put(body, signer('wrong-secret'))).status).toBe(403);
    const signed = await signer().sign(`${sink.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const tampered = await fetch(signed.url, { method: 'POST', headers: signed.headers, body: body.replace('Values.member.1=1', 'Values.member.1=9') });
    expect(tampered.status).toBe(403);
    expect(sink.stats().putRequests).toBe(before);
  });

  it('enforces the PutMetricData limits: 1000 datums, 150 values per datum', async () => {
    const many = await put(encodePutMetricData(Array.from({ length: 1001 }, () => datum())));
    expect(many.status).toBe(400);
    expect(await many.text()).toContain('InvalidParameterValue');
    const wide = Array.from({ length: 151 }, (_, i) => i);
    const tooWide = await put(encodePutMetricData([datum({ values: wide, counts: wide.map(() => 1) })]));
    expect(tooWide.status).toBe(400);
    expect((await put(encodePutMetricData(Array.from({ length: 1000 }, () => datum())))).status).toBe(200);
  });

  it('ingests EMF lines as Powertools prints them, and ignores other lines', () => {
    const line = JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: 'InferenceGateway/Adapters/dev',
            Dimensions: [['service', 'model']],
            Metrics: [
              { Name: 'Requests', Unit: 'Count' },
              { Name: 'Latency', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      service: 'sagemaker-adapter',
      model: 'm1',
      Requests: 1,
      Latency: [40, 60],
    });
    expect(sink.ingestLine(line)).toBe(true);
    expect(sink.ingestLine('{"level":"INFO","message":"invoke done"}')).toBe(false);
    expect(sink.ingestLine('not json')).toBe(false);
    const latency = sink.store.select({ namespace: 'InferenceGateway/Adapters/dev', metric: 'Latency', dimensionNames: ['service', 'model'] });
    expect(latency[0]?.values).toEqual([40, 60]);
    expect(latency[0]?.dimensions).toEqual({ service: 'sagemaker-adapter', model: 'm1' });
  });

  it('serves the dashboard page with the collected numbers', async () => {
    const res = await fetch(`${sink.url}/?env=dev&refresh=0`);
    const html = await res.text();
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(html).toMatch(/<tr data-label="p99">.*?data-value="300"/);
    expect(html).toMatch(/<tr data-label="sagemaker-adapter requests m1">.*?data-value="1"/);
    expect(html).not.toMatch(/<script|https?:\/\/(?!monitoring)/);
  });
});
