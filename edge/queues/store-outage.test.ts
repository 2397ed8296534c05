/**
 * Store outages on the queue side, against the real consumer in workerd and Redis behind a bridge
 * whose fault knobs the test turns (503s, dropped connections, a 5 s stall):
 * - a job whose store is down is retried on the store-outage schedule, past its three attempts,
 *   never dead-lettered, and runs once (one backend run) when the store is back — attempt by attempt
 *   through the handler, and end to end through miniflare's queue;
 * - the dead-letter consumer never acks a letter it could not record, and records it once when the
 *   store is back, however often the letter comes.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { Redis } from '@upstash/redis/cloudflare';
import { consumer, deadLettersOf, seedJob, setStackBridgeFaults, storedJob, type AttemptResult } from '../testing/queue-consumer';
import { clearStoreFaults, outageBindings, setStoreFaults, STORE_OUTAGES } from '../testing/store-faults';
import type { Bindings } from '../env';
import type { DeadLetterMessage } from './messages';
import { deadLetterRetryDelaySeconds, retryDelaySeconds } from './settings';

const JOBS = 'gw-jobs-standard-local';
const DLQ = 'gw-dlq-local';
/** The test vars' QUEUE_RETRY_BASE_SECONDS. */
const BASE_S = 1;

afterEach(async () => {
  await clearStoreFaults();
  await setStackBridgeFaults({ latencyMs: 0, fault: null });
});

const bindings = () => outageBindings({ STORE_TIMEOUT_MS: '1000' });
const messageId = () => crypto.randomUUID().replaceAll('-', '');

describe.each(STORE_OUTAGES)('queue consumers while the store is $name', ({ name, faults }) => {
  it('retries a job on the store-outage schedule past its three attempts, then runs it once when the store is back', async () => {
    const { job, message } = await seedJob();
    const attempt = consumer();
    const id = messageId();
    await setStoreFaults(faults);
    const during = [];
    for (let n = 1; n <= 5; n++) {
      const started = Date.now();
      const result = await attempt(JOBS, id, n, message, bindings());
      during.push({ n, ms: Date.now() - started, result });
    }
    console.warn(
      `job, store ${name}: attempts 1-5 → ${during.map(({ n, ms, result }) => `#${n} ${result.acked.length ? 'acked' : `retry in ${result.retried[0]?.delaySeconds} s`} (${ms} ms)`).join(', ')}`,
    );
    for (const { n, ms, result } of during) {
      expect(result.acked).toEqual([]);
      expect(result.retried.map((r) => r.id)).toEqual([id]);
      // The store schedule: exponential from the base, jitter in the upper half of each step.
      const delay = result.retried[0]?.delaySeconds ?? -1;
      expect(delay).toBeGreaterThanOrEqual(retryDelaySeconds('store', n, BASE_S, () => 0));
      expect(delay).toBeLessThanOrEqual(retryDelaySeconds('store', n, BASE_S, () => 1));
      // Bounded by the store timeout, not by the stall.
      expect(ms).toBeLessThan(3_000);
    }
    expect(await deadLettersOf(job.id)).toEqual([]);
    expect((await storedJob(job.id))?.status).toBe('queued');

    await clearStoreFaults();
    const after = await attempt(JOBS, id, 6, message, bindings());
    expect(after.acked).toEqual([id]);
    const done = await storedJob(job.id);
    console.warn(`job, store ${name}: attempt 6 after the store came back → ${done?.status}, ${done?.runs} backend run(s)`);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 6, runs: 1 });
    expect(done?.result?.usage.completion_tokens).toBe(3);
  });

  it('keeps a dead letter unacked while the store is down, then records it once', async () => {
    const { job, message } = await seedJob();
    const attempt = consumer();
    const letter: DeadLetterMessage = {
      kind: 'dead-letter',
      original: message,
      reason: 'UPSTREAM_ERROR: the backend failed',
      attempts: 3,
      failedAt: Date.now(),
      messageId: messageId(),
      queue: JOBS,
    };
    const id = messageId();
    await setStoreFaults(faults);
    const during: AttemptResult[] = [];
    for (let n = 1; n <= 3; n++) during.push(await attempt(DLQ, id, n, letter, bindings()));
    console.warn(
      `dead letter, store ${name}: attempts 1-3 → ${during.map((r) => (r.acked.length ? 'acked' : `retry in ${r.retried[0]?.delaySeconds} s`)).join(', ')}`,
    );
    for (const [i, result] of during.entries()) {
      expect(result.acked).toEqual([]);
      expect(result.retried.map((r) => r.id)).toEqual([id]);
      const delay = result.retried[0]?.delaySeconds ?? -1;
      expect(delay).toBeGreaterThanOrEqual(deadLetterRetryDelaySeconds(i + 1, BASE_S, () => 0));
      expect(delay).toBeLessThanOrEqual(deadLetterRetryDelaySeconds(i + 1, BASE_S, () => 1));
    }
    expect(await deadLettersOf(job.id)).toEqual([]);

    await clearStoreFaults();
    expect((await attempt(DLQ, id, 4, letter, bindings())).acked).toEqual([id]);
    // The same letter again (a redelivery, or sent twice): still one record.
    expect((await attempt(DLQ, messageId(), 1, letter, bindings())).acked).toHaveLength(1);
    const recorded = await deadLettersOf(job.id);
    console.warn(`dead letter, store ${name}: ${recorded.length} record(s) after the store came back`);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ id: letter.messageId, messageId: letter.messageId, reason: letter.reason });
  });
});

describe('queue consumers through miniflare while the store is unavailable', () => {
  it('redelivers a job past three attempts and completes it after the store comes back, never dead-lettered', async () => {
    const { job, message } = await seedJob();
    // Reads while the stack's bridge is down go through the outage bridge (same Redis).
    const healthy = new Redis({ url: inject('outageBridgeUrl'), token: inject('outageBridgeToken'), enableTelemetry: false });
    await setStackBridgeFaults({ fault: 'unavailable' });
    await (env as unknown as Bindings).JOBS_QUEUE_STANDARD?.send(message, { contentType: 'json' });
    // Three attempts of a backend failure take about 4 s at this base; the outage lasts 15 s.
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    const during = await healthy.get<{ status: string }>(`gw:job:${job.id}`);
    expect(during?.status).toBe('queued');
    await setStackBridgeFaults({ fault: null });
    await vi.waitUntil(async () => (await storedJob(job.id))?.status === 'succeeded', { timeout: 30_000, interval: 250 });
    const done = await storedJob(job.id);
    console.warn(`job through the queue, 15 s store outage: ${done?.status} on queue attempt ${done?.attempts}, ${done?.runs} backend run(s)`);
    expect(done?.attempts).toBeGreaterThanOrEqual(4);
    expect(done?.runs).toBe(1);
    // Give a wrong dead letter time to land before counting.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await deadLettersOf(job.id)).toEqual([]);
  }, 60_000);
});
