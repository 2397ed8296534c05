/**
 * A message is dead-lettered exactly once and the DLQ holds one record per message: deliveries to a
 * callback that never answers (DELIVERY_TIMEOUT_MS is 1 s in the test vars) and to one that refuses
 * connections, end to end through the real queues in miniflare, and a delivery that comes back after
 * its dead letter (what a failed batch or a lost ack makes the platform do).
 */
import { env, SELF } from 'cloudflare:test';
import { describe, expect, inject, it, vi } from 'vitest';
import { storeKeys, type TenantRecord } from '../../shared/contracts/tenancy';
import { generateWebhookSecret } from '../../shared/crypto/hmac';
import { consumer, deadLettersOf, seedJob, storedJob } from '../testing/queue-consumer';
import { seedTenantKey, store } from '../testing/seed';
import { BASE, receivedAt, receiver, receiverBehaves } from '../testing/webhooks';
import type { DeliveryMessage } from './messages';

const model = inject('model');
const DELIVERIES = 'gw-deliveries-local';
/** The test vars' DELIVERY_MAX_ATTEMPTS. */
const DELIVERY_ATTEMPTS = 3;
/** A loopback port nothing listens on: connections are refused. */
const REFUSED = 'http://127.0.0.1:9/callback';

/** A tenant whose default callback is `callbackUrl`, with a key for many jobs. */
async function tenantWithCallback(callbackUrl: string) {
  const seeded = await seedTenantKey({ scopes: ['jobs'], overrides: { requestsPerMinute: 1_000, requestsPerHour: 10_000 } });
  const tenant: TenantRecord = { ...seeded.tenant, callbackUrl, webhookSecrets: [generateWebhookSecret()] };
  await store.set(storeKeys.tenant(tenant.tenantId), tenant);
  return seeded.key;
}

async function submitJobs(key: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await SELF.fetch(`${BASE}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: `dead letter once ${i}`, params: { max_tokens: 2 } }),
    });
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { id: string }).id);
  }
  return ids;
}

describe('dead letters of deliveries', () => {
  it('dead-letters each delivery to a silent or a refusing callback once: one record per message, three callback attempts each', async () => {
    const silentPath = `/silent/${crypto.randomUUID()}`;
    await receiverBehaves(silentPath, { hang: true });
    // More jobs than a delivery batch holds (10), so several batches die at once.
    const silent = await submitJobs(await tenantWithCallback(`${receiver}${silentPath}`), 12);
    const refused = await submitJobs(await tenantWithCallback(REFUSED), 12);
    const all = [...silent, ...refused];
    const started = Date.now();
    await vi.waitUntil(
      async () => {
        const settled = await Promise.all(
          all.map(async (id) => (await storedJob(id))?.delivery?.status === 'dead-lettered' && (await deadLettersOf(id)).length > 0),
        );
        return settled.every(Boolean);
      },
      { timeout: 60_000, interval: 500 },
    );
    const settledMs = Date.now() - started;
    // Let any second dead letter of a message arrive before counting.
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const records = await Promise.all(all.map((id) => deadLettersOf(id)));
    const jobs = await Promise.all(all.map((id) => storedJob(id)));
    const silentHits = (await receivedAt(silentPath)).hits;
    console.warn(
      `${all.length} deliveries (12 silent, 12 refused) dead-lettered in ${settledMs} ms: records per message ${JSON.stringify([...new Set(records.map((r) => r.length))])}, ` +
        `callback attempts ${JSON.stringify([...new Set(jobs.map((j) => j?.delivery?.attempts))])}, silent callback hit ${silentHits} times`,
    );
    for (const [i, letters] of records.entries()) {
      expect(letters, all[i]).toHaveLength(1);
      expect(letters[0]?.original?.kind).toBe('delivery');
    }
    expect(jobs.every((j) => j?.delivery?.status === 'dead-lettered' && j.delivery.attempts === DELIVERY_ATTEMPTS)).toBe(true);
    // Each silent delivery was tried exactly its three times: nothing came back after its dead letter.
    expect(silentHits).toBe(silent.length * DELIVERY_ATTEMPTS);
    await receiverBehaves(silentPath, {});
  }, 90_000);

  it('gives up on a silent callback after DELIVERY_TIMEOUT_MS, not the default 30 s', async () => {
    const path = `/silent/${crypto.randomUUID()}`;
    await receiverBehaves(path, { hang: true });
    const { job } = await seedJob({ callbackUrl: `${receiver}${path}`, job: { status: 'succeeded' } });
    const delivery: DeliveryMessage = { kind: 'delivery', deliveryId: `msg_${job.id.slice(4)}`, jobId: job.id, tenantId: job.tenantId };
    const started = Date.now();
    const result = await consumer()(DELIVERIES, crypto.randomUUID(), 1, delivery, env as Record<string, unknown>);
    const ms = Date.now() - started;
    console.warn(`silent callback: attempt settled in ${ms} ms (retry in ${result.retried[0]?.delaySeconds} s)`);
    expect(result.retried).toHaveLength(1);
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(5_000);
    expect((await storedJob(job.id))?.delivery).toMatchObject({ status: 'pending', attempts: 1 });
    await receiverBehaves(path, {});
  });

  it('records a delivery that comes back after its dead letter once, and does not call the callback again', async () => {
    const path = `/failing/${crypto.randomUUID()}`;
    await receiverBehaves(path, { status: 500 });
    // The last of the three callback attempts is due.
    const { job } = await seedJob({
      callbackUrl: `${receiver}${path}`,
      job: { status: 'succeeded', delivery: { status: 'pending', attempts: DELIVERY_ATTEMPTS - 1 } },
    });
    const delivery: DeliveryMessage = { kind: 'delivery', deliveryId: `msg_${job.id.slice(4)}`, jobId: job.id, tenantId: job.tenantId };
    const attempt = consumer();
    const id = crypto.randomUUID().replaceAll('-', '');
    const first = await attempt(DELIVERIES, id, 3, delivery, env as Record<string, unknown>);
    expect(first).toEqual({ acked: [id], retried: [], retriedAll: false });
    // The same message again, as the platform redelivers a batch that failed after this ack.
    const again = await attempt(DELIVERIES, id, 4, delivery, env as Record<string, unknown>);
    expect(again).toEqual({ acked: [id], retried: [], retriedAll: false });
    await vi.waitUntil(async () => (await deadLettersOf(job.id)).length > 0, { timeout: 15_000, interval: 250 });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const letters = await deadLettersOf(job.id);
    console.warn(`delivery redelivered after its dead letter: ${letters.length} record(s), keyed ${letters.map((l) => l.id).join(', ')}`);
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ id, messageId: id, queue: DELIVERIES });
    expect((await storedJob(job.id))?.delivery).toMatchObject({ status: 'dead-lettered', attempts: DELIVERY_ATTEMPTS, lastStatus: 500 });
    expect((await receivedAt(path)).hits).toBe(1);
    await receiverBehaves(path, {});
  });
});
