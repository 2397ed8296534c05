/**
 * The `job` action in workerd against the real local stack (Redis through the bridge, Cloudflare
 * Queues in miniflare with the consumer's real retries and waits, the Lambda host and the model
 * server): an event signed with the `standardwebhooks` package is accepted once and becomes exactly
 * one job of the source's tenant, readable by id from the 202 on and delivered signed to the
 * template's callback; its replay with unsigned headers changed gets the first answer and starts no
 * second job; a template that does not render fails the job with the reason and dead-letters the
 * event once; a job that meets its tenant's limits waits for Retry-After and then runs, or fails
 * with RATE_LIMITED when the wait would pass its deadline.
 */
import { env, SELF } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { generateWebhookSecret } from '../../shared/crypto/hmac';
import { consumer, storedJob } from '../testing/queue-consumer';
import { exportedRecords } from '../testing/usage';
import { seedTenantKey, store, type SeededKey } from '../testing/seed';
import { BASE, newEvent, receivedAt, senderIp, sendStandard } from '../testing/webhooks';
import { DLQ_KEY } from './dead-letters';
import { webhookJobId } from './job-store';
import type { WebhookMessage } from './messages';

const tenants = inject('webhookTenants');
const model = inject('model');
const modelServer = inject('modelServerUrl');
const CALLBACK_PATH = '/callbacks/webhook-jobs';

const waitFor = (check: () => Promise<boolean>, timeout = 30_000) => vi.waitUntil(check, { timeout, interval: 200 });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface JobView {
  id: string;
  status: string;
  model: string;
  result?: { output: string; usage: { prompt_tokens: number; completion_tokens: number } };
  error?: { code: string; message: string };
  webhook?: { source: string; event_id: string; type: string };
}

const getJob = async (key: string, id: string) => {
  const res = await SELF.fetch(`${BASE}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, job: (await res.json()) as JobView };
};

async function settledJob(key: string, id: string, timeout = 30_000): Promise<JobView> {
  let job: JobView | undefined;
  await waitFor(async () => {
    job = (await getJob(key, id)).job;
    return job.status === 'succeeded' || job.status === 'failed';
  }, timeout);
  return job!;
}

/** Dead letters recorded for the webhook event `eventId`, with their DLQ ids (what a redrive names). */
async function lettersOf(eventId: string): Promise<Array<{ id: string; reason: string }>> {
  const all = (await store.hgetall<Record<string, { reason: string; original?: { kind: string; event?: { id: string } } }>>(DLQ_KEY)) ?? {};
  return Object.entries(all)
    .filter(([, d]) => d.original?.kind === 'webhook' && d.original.event?.id === eventId)
    .map(([id, d]) => ({ id, reason: d.reason }));
}

const succeededCalls = async () => {
  const stats = (await (await fetch(`${modelServer}/admin/stats`)).json()) as { byEndpoint: Record<string, { succeeded: number }> };
  return Object.values(stats.byEndpoint).reduce((n, c) => n + c.succeeded, 0);
};

let jobs: SeededKey & { secret: string };

beforeAll(async () => {
  const secret = generateWebhookSecret();
  jobs = {
    ...(await seedTenantKey({ tenantId: tenants.jobs, scopes: ['jobs', 'infer'], tenant: { webhookSecrets: [secret] } })),
    secret,
  };
});

describe('the job action', () => {
  it('turns a signed event into exactly one job, readable by id from the 202 on, and answers its replay with the first answer', async () => {
    const event = newEvent('summarize.article', { text: 'Queues decouple senders from work.' });
    const body = JSON.stringify(event);
    const at = new Date();
    const msgId = `msg_${event.id}`;
    const before = await succeededCalls();

    const requestId = `wh-${event.id}`;
    const first = await sendStandard(body, { msgId, at, source: 'jobs', headers: { 'x-request-id': requestId } });
    expect(first.status).toBe(202);
    const accepted = (await first.json()) as { id: string; status: string; job_id: string };
    expect(accepted).toMatchObject({ id: event.id, source: 'jobs', status: 'accepted', job_id: await webhookJobId('jobs', msgId) });
    // Readable at once, by the source's tenant only.
    const early = await getJob(jobs.key, accepted.job_id);
    expect(early.status).toBe(200);
    expect(['queued', 'running', 'succeeded']).toContain(early.job.status);
    const stranger = await seedTenantKey({ scopes: ['jobs'] });
    expect((await getJob(stranger.key, accepted.job_id)).status).toBe(404);

    // A replay of the captured request: same webhook-id, timestamp, signature and body; unsigned headers changed.
    const signed = {
      'webhook-id': msgId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(inject('webhookSecrets').jobs).sign(msgId, at, body),
    };
    const replayStatuses: number[] = [];
    const unsigned: Record<string, string>[] = [
      { 'user-agent': 'replayer/6.6', 'x-request-id': crypto.randomUUID(), 'idempotency-key': `replay-${crypto.randomUUID()}` },
      { 'x-forwarded-for': '203.0.113.9', 'cf-connecting-ip': senderIp(), accept: 'text/plain' },
    ];
    for (const extra of unsigned) {
      const replay = await SELF.fetch(`${BASE}/webhooks/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', ...signed, ...extra }, body });
      replayStatuses.push(replay.status);
      expect(await replay.json()).toEqual(accepted);
    }
    expect(replayStatuses).toEqual([200, 200]);

    const job = await settledJob(jobs.key, accepted.job_id);
    expect(job).toMatchObject({ status: 'succeeded', model, webhook: { source: 'jobs', event_id: event.id, type: 'summarize.article' } });
    expect(job.result?.usage.completion_tokens).toBe(5);
    // The job is one request of the source's tenant in the usage ledger, recorded when it ended.
    const recordsOf = async () => (await exportedRecords(tenants.jobs)).filter((r) => r.request_id === requestId);
    const recorded = await vi.waitUntil(async () => ((await recordsOf()).length > 0 ? recordsOf() : undefined), { timeout: 20_000, interval: 300 });
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ route: '/webhooks/:source', key_id: 'webhook:jobs', backend_completion_tokens: 5, status: 200 });
    // The prompt the template rendered, answered the same by the sync route.
    const sync = await SELF.fetch(`${BASE}/v1/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${jobs.key}`, 'content-type': 'application/json', 'cache-control': 'no-cache' },
      body: JSON.stringify({ model, prompt: 'Summarize: Queues decouple senders from work.', params: { max_tokens: 5 } }),
    });
    expect(((await sync.json()) as { output: string }).output).toBe(job.result?.output);

    // Signed delivery of the result to the template's callback, verified by the standardwebhooks package.
    await waitFor(async () => (await receivedAt(CALLBACK_PATH)).received.some((r) => JSON.parse(r.body).data?.id === accepted.job_id));
    // Time for a wrongly started second job to show up before counting.
    await pause(2_500);
    const deliveries = (await receivedAt(CALLBACK_PATH)).received.filter((r) => JSON.parse(r.body).data?.id === accepted.job_id);
    expect(deliveries).toHaveLength(1);
    const delivered = new Webhook(jobs.secret).verify(deliveries[0]!.body, {
      'webhook-id': deliveries[0]!.headers['webhook-id']!,
      'webhook-timestamp': deliveries[0]!.headers['webhook-timestamp']!,
      'webhook-signature': deliveries[0]!.headers['webhook-signature']!,
    }) as { type: string; data: JobView };
    expect(delivered.type).toBe('job.succeeded');
    expect(delivered.data.result?.output).toBe(job.result?.output);
    const calls = (await succeededCalls()) - before;
    const record = await storedJob(accepted.job_id);
    console.warn(
      `webhook job: 202 then replays ${JSON.stringify(replayStatuses)}; job ${job.status} after ${record?.runs} run(s); ${calls} backend calls (job + the sync check); ${deliveries.length} delivery`,
    );
    expect(record?.runs).toBe(1);
    expect(calls).toBe(2);
  });

  it('builds chat messages from a messages template', async () => {
    const event = newEvent('ask.chat', { question: 'Is the sky "blue"?' });
    const res = await sendStandard(JSON.stringify(event), { msgId: event.id, source: 'jobs' });
    const { job_id: id } = (await res.json()) as { job_id: string };
    const job = await settledJob(jobs.key, id);
    expect(job.status).toBe('succeeded');
    expect(job.model).toBe('mistral-7b-instruct-lmi');
    expect((await storedJob(id))?.request).toEqual({
      model: 'mistral-7b-instruct-lmi',
      messages: [
        { role: 'system', content: 'Answer in one word.' },
        { role: 'user', content: 'Is the sky "blue"?' },
      ],
      params: { max_tokens: 3 },
    });
  });

  it.each([
    { name: 'a missing path', type: 'summarize.empty', payload: { title: 'no text' }, reason: "the event has no payload.text (payload has no 'text')" },
    {
      name: 'a result over the cap',
      type: 'tiny.long',
      payload: { text: 'x'.repeat(60) },
      reason: "the rendered prompt is over the template's cap of 40 characters",
    },
  ])('fails the job with the reason and dead-letters the event once when the template meets $name', async ({ type, payload, reason }) => {
    const event = newEvent(type, payload);
    const res = await sendStandard(JSON.stringify(event), { msgId: event.id, source: 'jobs' });
    expect(res.status).toBe(202);
    const { job_id: id } = (await res.json()) as { job_id: string };
    const job = await settledJob(jobs.key, id);
    expect(job.status).toBe('failed');
    expect(job.error).toEqual({ code: 'INVALID_INPUT', message: `template did not render: ${reason}` });
    await waitFor(async () => (await lettersOf(event.id)).length > 0);
    await pause(2_500);
    const letters = await lettersOf(event.id);
    console.warn(`template with ${type}: job ${job.status} (${job.error?.message}); ${letters.length} dead letter(s)`);
    expect(letters).toEqual([expect.objectContaining({ reason: `INVALID_INPUT: template did not render: ${reason}` })]);
  });
});

describe('a triggered job at its tenant’s limits', () => {
  let limited: SeededKey;

  beforeAll(async () => {
    limited = await seedTenantKey({ tenantId: tenants.limited, scopes: ['jobs', 'infer'], overrides: { requestsPerMinute: 1 } });
  });

  /** Waits until the minute window ends in `min`..`max` s: fixed windows end on the minute. */
  async function untilMinuteEndsIn(min: number, max: number): Promise<void> {
    for (;;) {
      const left = 60 - ((Date.now() / 1000) % 60);
      if (left >= min && left <= max) return;
      await pause(Math.max(100, (left - max) * 1000));
    }
  }

  it('waits for Retry-After, then runs', { timeout: 120_000 }, async () => {
    await untilMinuteEndsIn(8, 14);
    const send = async (text: string) => {
      const event = newEvent('limited.run', { text });
      const res = await sendStandard(JSON.stringify(event), { msgId: event.id, source: 'limited' });
      expect(res.status).toBe(202);
      return { event, id: ((await res.json()) as { job_id: string }).job_id };
    };
    // The first takes the minute's only request.
    const first = await send('first');
    await waitFor(async () => (await storedJob(first.id))?.pendingAdmission === undefined);
    const second = await send('second');
    await waitFor(async () => (await storedJob(second.id))?.pendingAdmission?.retryAt !== undefined);
    const waiting = await storedJob(second.id);
    const seenAt = Date.now();
    expect((await getJob(limited.key, second.id)).job.status).toBe('queued');
    const retryAt = waiting!.pendingAdmission!.retryAt!;
    // Retry-After is the end of the minute window.
    expect(Math.abs(retryAt - Math.ceil(Date.now() / 60_000) * 60_000)).toBeLessThan(2_000);

    const job = await settledJob(limited.key, second.id, 60_000);
    const record = await storedJob(second.id);
    console.warn(
      `rate-limited webhook job: waited ${Math.round((retryAt - seenAt) / 1000)} s for Retry-After, then ${job.status} (updated ${record!.updatedAt - retryAt} ms after the retry time)`,
    );
    expect(job.status).toBe('succeeded');
    expect(record!.updatedAt).toBeGreaterThanOrEqual(retryAt);
    expect(record!.pendingAdmission).toBeUndefined();
    expect(await lettersOf(second.event.id)).toEqual([]);
  });

  it('fails with RATE_LIMITED and dead-letters the event when the wait would pass its deadline; a redrive once the limits allow runs it', async () => {
    const late = await seedTenantKey({ tenantId: tenants.late, scopes: ['jobs', 'infer'], overrides: { requestsPerMinute: 1 } });
    // Leave the window more than the deadline to run, and spend its one request.
    await untilMinuteEndsIn(10, 55);
    const spent = await SELF.fetch(`${BASE}/v1/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${late.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'spend the minute', params: { max_tokens: 1 } }),
    });
    expect(spent.status).toBe(200);
    const event = newEvent('late.run', { text: 'too late' });
    const message: WebhookMessage = {
      kind: 'webhook',
      source: 'late',
      deliveryId: event.id,
      event: event as WebhookMessage['event'],
      receivedAt: Date.now(),
      requestId: 'req_deadline',
    };
    const messageId = `m_${crypto.randomUUID()}`;
    // One attempt of the real consumer with a 5 s job deadline (JOB_DEADLINE_SECONDS).
    const result = await consumer()('gw-webhooks-local', messageId, 1, message, { ...env, JOB_DEADLINE_SECONDS: '5' });
    expect(result).toMatchObject({ acked: [messageId], retried: [] });
    const id = await webhookJobId('late', event.id);
    const failed = (await getJob(late.key, id)).job;
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('RATE_LIMITED');
    expect(failed.error?.message).toMatch(/^the tenant's limits admit the job only in \d+ s, past its deadline of 5 s/);
    await waitFor(async () => (await lettersOf(event.id)).length > 0);
    const letters = await lettersOf(event.id);
    expect(letters).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^RATE_LIMITED: /) })]);

    // The operator raises the tenant's limit and redrives the event: the same job runs, once.
    await seedTenantKey({ tenantId: tenants.late, scopes: ['jobs'], overrides: { requestsPerMinute: 100 } });
    const redrive = await SELF.fetch(`${BASE}/v1/operator/dlq/redrive`, {
      method: 'POST',
      headers: { authorization: `Bearer ${(env as { OPERATOR_TOKEN?: string }).OPERATOR_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: letters.map((l) => l.id) }),
    });
    expect(redrive.status).toBe(200);
    // The job reads as failed until the redriven event runs: wait for it to succeed, or to fail again (a new letter).
    await waitFor(async () => (await getJob(late.key, id)).job.status === 'succeeded' || (await lettersOf(event.id)).length > 0);
    const job = (await getJob(late.key, id)).job;
    const record = await storedJob(id);
    console.warn(
      `deadline 5 s at the tenant's limits: job ${failed.status} ${failed.error?.code}, ${letters.length} dead letter; after the redrive ${job.status} in ${record?.runs} run`,
    );
    expect(job.status).toBe('succeeded');
    expect(record?.runs).toBe(1);
    expect(await lettersOf(event.id)).toEqual([]);
  });
});
