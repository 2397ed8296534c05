/**
 * The flusher's guarantees with a recording `send` and an injected clock: at most one flush per
 * interval and never two at once, a failing send never throws and its datums are retried with the
 * next flush at most MAX_ATTEMPTS times, and the retry buffer stays bounded.
 */
import { describe, expect, it } from 'vitest';
import { IsolateMetrics } from './metrics';
import { MAX_ATTEMPTS, MAX_PENDING_DATUMS, MetricsFlusher, type FlushTarget } from './metrics-flush';

const target: FlushTarget = {
  endpoint: 'http://127.0.0.1:1/',
  environment: 'dev',
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'secret' },
  intervalMs: 60_000,
};

function setup(send: (body: string) => Promise<void>) {
  let now = 1_000_000;
  const metrics = new IsolateMetrics();
  const bodies: string[] = [];
  const flusher = new MetricsFlusher({
    metrics,
    now: () => now,
    send: async (body) => {
      bodies.push(body);
      await send(body);
    },
  });
  return { metrics, flusher, bodies, advance: (ms: number) => (now += ms) };
}

describe('MetricsFlusher', () => {
  it('flushes at most once per interval, however many requests ask', async () => {
    const { metrics, flusher, bodies, advance } = setup(async () => {});
    let started = 0;
    for (let i = 0; i < 200; i++) {
      metrics.count('Requests', { StatusClass: '2xx' });
      const flight = flusher.maybeFlush(target);
      if (flight) {
        started++;
        await flight;
      }
      advance(1_000); // 200 requests over 200 s
    }
    // t = 0, 60, 120, 180 s.
    expect(started).toBe(4);
    expect(bodies).toHaveLength(4);
    console.warn(`200 requests over 200 s with a 60 s interval: ${started} flushes`);
  });

  it('never runs two flushes at once, even past the interval', async () => {
    let release = () => {};
    const { metrics, flusher, advance } = setup(() => new Promise<void>((resolve) => (release = resolve)));
    metrics.count('Requests');
    const first = flusher.maybeFlush(target);
    expect(first).toBeDefined();
    advance(120_000);
    metrics.count('Requests');
    expect(flusher.maybeFlush(target)).toBeUndefined();
    release();
    await first;
    expect(flusher.maybeFlush(target)).toBeDefined();
  });

  it('never throws: a failed send keeps its datums for the next flush, at most MAX_ATTEMPTS times', async () => {
    let failing = true;
    const { metrics, flusher, bodies, advance } = setup(async () => {
      if (failing) throw new Error('connection refused');
    });
    metrics.count('AuthFailures', {}, 7);
    const reports = [];
    for (let i = 0; i < MAX_ATTEMPTS + 1; i++) {
      reports.push(await flusher.maybeFlush(target));
      advance(60_000);
    }
    expect(reports.map((r) => r?.failedRequests)).toEqual([1, 1, 1, 0]);
    expect(reports.map((r) => r?.pendingDatums)).toEqual([1, 1, 0, 0]);
    expect(reports[MAX_ATTEMPTS - 1]?.droppedDatums).toBe(1);
    // The same datum (value 7) was sent MAX_ATTEMPTS times, then given up; the last flush had nothing.
    expect(bodies.filter((b) => b.includes('AuthFailures') && b.includes('Values.member.1=7'))).toHaveLength(MAX_ATTEMPTS);

    failing = false;
    metrics.count('AuthFailures', {}, 2);
    await flusher.maybeFlush(target);
    metrics.count('AuthFailures', {}, 1);
    failing = true;
    advance(60_000);
    const failed = await flusher.maybeFlush(target);
    failing = false;
    advance(60_000);
    metrics.count('AuthFailures', {}, 4);
    const retried = await flusher.maybeFlush(target);
    expect(failed?.pendingDatums).toBe(1);
    // The retried datum (1) and the new one (4) went out together.
    expect(retried).toMatchObject({ failedRequests: 0, sentDatums: 2, pendingDatums: 0 });
  });

  it(`keeps at most ${MAX_PENDING_DATUMS} datums for retry`, async () => {
    const { metrics, flusher, advance } = setup(async () => {
      throw new Error('503');
    });
    // 1900 series with their own route and code: 1 + 1 + 1900 + 1900 datums per flush.
    for (let i = 0; i < 1_900; i++) metrics.count('Requests', { Route: `/r${i}`, StatusClass: '4xx', Code: `CODE_R${i}` });
    const first = await flusher.maybeFlush(target);
    advance(60_000);
    for (let i = 0; i < 1_900; i++) metrics.count('Requests', { Route: `/s${i}`, StatusClass: '5xx', Code: `CODE_S${i}` });
    const second = await flusher.maybeFlush(target);
    expect(first).toMatchObject({ pendingDatums: 3_802, droppedDatums: 0 });
    expect(second).toMatchObject({ pendingDatums: MAX_PENDING_DATUMS, droppedDatums: 2 * 3_802 - MAX_PENDING_DATUMS });
    console.warn(`pending after two failed flushes: ${second?.pendingDatums}, dropped ${(first?.droppedDatums ?? 0) + (second?.droppedDatums ?? 0)}`);
  });
});
