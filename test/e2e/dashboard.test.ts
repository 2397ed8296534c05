/**
 * The local dashboard end to end: the whole stack (the edge bundle in workerd, as `npm start` serves it), a short load of
 * successes, 401s and backend errors (model server `forcedStatus`), the edge's flush to the metrics
 * sink and the adapters' EMF lines, then the page: its numbers asserted from the HTML, and a
 * screenshot taken with headless Chromium (path printed).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../tools/stack/stack';

const run = promisify(execFile);
let stack: Stack;
let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gw-dashboard-'));
  stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir, metricsFlushIntervalMs: 500 });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

const infer = (key: string) =>
  fetch(`${stack.gatewayUrl}/v1/infer`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: stack.model, prompt: `dashboard ${Math.random()}`, params: { max_tokens: 8 } }),
  });

/** The window value of a legend row of a widget, from the page's `data-value` attributes. */
function widgetValue(html: string, widget: string, label: RegExp): number | undefined {
  const section = html.split('<section class="widget"').find((s) => s.includes(`data-widget="${widget}"`));
  if (!section) return undefined;
  for (const row of section.matchAll(/<tr data-label="([^"]*)">.*?data-value="([^"]*)"/g)) {
    if (label.test(row[1]!) && row[2] !== '') return Number(row[2]);
  }
  return undefined;
}

describe('the local dashboard', () => {
  it('shows live numbers from a short local load, and renders in headless Chromium', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await infer(stack.apiKey)).status);
    for (let i = 0; i < 4; i++) statuses.push((await infer('gw_test_wrong-key')).status);
    // One embeddings call of 5 inputs: one batch of 5 for the TEI model.
    const embedded = await fetch(`${stack.gatewayUrl}/v1/embeddings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'bge-small-en-tei', input: ['a', 'b', 'c', 'd', 'e'].map((x) => `${x} ${Math.random()}`) }),
    });
    expect(embedded.status).toBe(200);
    await fetch(`${stack.modelServer.url}/admin/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ forcedStatus: 500 }),
    });
    for (let i = 0; i < 3; i++) statuses.push((await infer(stack.apiKey)).status);
    await fetch(`${stack.modelServer.url}/admin/reset`, { method: 'POST' });
    const count = (pred: (s: number) => boolean) => statuses.filter(pred).length;
    console.warn(`load: ${count((s) => s === 200)} × 200, ${count((s) => s === 401)} × 401, ${count((s) => s >= 500)} × 5xx`);
    expect(count((s) => s === 200)).toBe(12);
    expect(count((s) => s === 401)).toBe(4);
    expect(count((s) => s >= 500)).toBe(3);

    // Isolates flush when a request arrives after the interval: keep a trickle going until every
    // request of the load has reached the sink. The trickle is GET /v1/models (counted apart):
    // /health resolves no config, so it never flushes.
    let html = '';
    const deadline = Date.now() + 60_000;
    for (;;) {
      await new Promise((r) => setTimeout(r, 600));
      await fetch(`${stack.gatewayUrl}/v1/models`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
      html = await (await fetch(`${stack.dashboardUrl}?refresh=0`)).text();
      const infer2xx = widgetValue(html, 'Requests by route and status class', /\/v1\/infer 2xx$/);
      const infer5xx = widgetValue(html, 'Requests by route and status class', /\/v1\/infer 5xx$/);
      const auth = widgetValue(html, 'Rate limited and auth failures', /^auth failures$/);
      const batch = widgetValue(html, 'Embeddings batches: size and wait by model', /^inputs per call bge-small-en-tei$/);
      if ((infer2xx === 12 && infer5xx === 3 && auth === 4 && batch === 5) || Date.now() > deadline) break;
    }

    const v = (widget: string, label: RegExp) => widgetValue(html, widget, label);
    expect(v('Requests by route and status class', /\/v1\/infer 2xx$/)).toBe(12);
    expect(v('Requests by route and status class', /\/v1\/infer 4xx$/)).toBe(4);
    expect(v('Requests by route and status class', /\/v1\/infer 5xx$/)).toBe(3);
    expect(v('Rate limited and auth failures', /^auth failures$/)).toBe(4);
    expect(v('Errors by code', /^code UNAUTHORIZED$/)).toBe(4);
    expect(v('Errors by code', /^code UPSTREAM_ERROR$/)).toBeGreaterThanOrEqual(1);
    const p50 = v('Edge latency (ms)', /^p50$/);
    const p95 = v('Edge latency (ms)', /^p95$/);
    const p99 = v('Edge latency (ms)', /^p99$/);
    expect(p50).toBeGreaterThanOrEqual(0);
    expect(p95).toBeGreaterThanOrEqual(p50 ?? 0);
    expect(p99).toBeGreaterThanOrEqual(p95 ?? 0);
    expect(v('Backend / variant split', /sagemaker-local/)).toBeGreaterThanOrEqual(12);
    expect(v('Embeddings batches: size and wait by model', /^inputs per call bge-small-en-tei$/)).toBe(5);
    expect(v('Embeddings batches: size and wait by model', /^wait p95 \(ms\) bge-small-en-tei$/)).toBeGreaterThanOrEqual(0);
    const tokensTotal = Number(/data-label="completion tokens\/s".*?data-total="([^"]*)"/.exec(html)?.[1]);
    expect(tokensTotal).toBe(12 * 8);
    // The adapters' EMF lines, through the Lambda host's stdout.
    expect(v('Adapter requests and errors by code', /^sagemaker-adapter requests llama/)).toBeGreaterThanOrEqual(12);
    expect(v('Adapter requests and errors by code', /^sagemaker-adapter requests bge-small-en-tei$/)).toBe(1);
    expect(v('Adapter requests and errors by code', /^sagemaker-adapter errors /)).toBeGreaterThanOrEqual(1);
    expect(v('Adapter latency, model latency and time to first token p95 (ms)', /^sagemaker-adapter latency p95 /)).toBeGreaterThan(0);
    const stats = stack.metricsSink.stats();
    expect(stats.putRejected).toBe(0);
    console.warn(
      `dashboard: edge p50 ${p50} ms, p95 ${p95} ms, p99 ${p99} ms; ${stats.putRequests} PutMetricData calls (${stats.putDatums} datums), ${stats.emfLines} EMF lines`,
    );

    const shotDir = await mkdtemp(join(tmpdir(), 'gw-dashboard-shot-'));
    const shot = join(shotDir, 'dashboard.png');
    await run(
      'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${join(shotDir, 'profile')}`,
        `--screenshot=${shot}`,
        '--window-size=1280,1600',
        `${stack.dashboardUrl}?refresh=0`,
      ],
      { timeout: 90_000 },
    );
    const png = await stat(shot);
    expect(png.size).toBeGreaterThan(20_000);
    console.warn(`dashboard screenshot (${png.size} bytes): ${shot}`);
  }, 180_000);
});
