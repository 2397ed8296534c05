/**
 * Async jobs through the real stack: `POST /v1/jobs` → 202 queued → the tier's queue consumer runs
 * the job through the adapter and the model server → `GET /v1/jobs/{id}` shows the result, and the
 * result arrives at the tenant's callback (the local receiver) signed so that the `standardwebhooks`
 * verifier accepts it. Tenant scoping, priority, SSRF and the 410 stop are checked too.
 */
import { SELF } from 'cloudflare:test';
import { describe, expect, inject, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { storeKeys, type TenantRecord } from '../../shared/contracts/tenancy';
import { generateWebhookSecret } from '../../shared/crypto/hmac';
import { seedTenantKey, store, type SeedOptions } from '../testing/seed';
import { receivedAt, receiver, receiverBehaves } from '../testing/webhooks';

const model = inject('model');
const BASE = 'https://gateway.test';

/** A tenant with a `jobs` key, a webhook secret and a callback path of its own on the receiver. */
async function jobTenant(options: SeedOptions = {}) {
  const seeded = await seedTenantKey({ scopes: ['jobs'], ...options });
  const secret = generateWebhookSecret();
  const path = `/callbacks/${seeded.tenant.tenantId}`;
  const tenant: TenantRecord = { ...seeded.tenant, callbackUrl: `${receiver}${path}`, webhookSecrets: [secret] };
  await store.set(storeKeys.tenant(tenant.tenantId), tenant);
  return { ...seeded, secret, path };
}

function call(key: string, method: string, path: string, body?: unknown) {
  return SELF.fetch(`${BASE}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

const waitFor = (check: () => Promise<boolean>) => vi.waitUntil(check, { timeout: 30_000, interval: 200 });

describe('/v1/jobs', () => {
  it('queues a job, runs it, stores the result, and delivers it signed to the callback', async () => {
    const t = await jobTenant();
    const res = await call(t.key, 'POST', '/v1/jobs', { model, prompt: 'An async haiku', params: { max_tokens: 6 } });
    expect(res.status).toBe(202);
    const { id, status } = (await res.json()) as { id: string; status: string };
    expect(status).toBe('queued');

    let job: { status: string; result?: { output: string; usage: { completion_tokens: number } } } = { status: 'queued' };
    await waitFor(async () => {
      job = (await (await call(t.key, 'GET', `/v1/jobs/${id}`)).json()) as typeof job;
      return job.status === 'succeeded';
    });
    expect(job.result?.usage.completion_tokens).toBe(6);

    await waitFor(async () => (await receivedAt(t.path)).received.length > 0);
    const [delivery] = (await receivedAt(t.path)).received;
    const headers = {
      'webhook-id': delivery!.headers['webhook-id']!,
      'webhook-timestamp': delivery!.headers['webhook-timestamp']!,
      'webhook-signature': delivery!.headers['webhook-signature']!,
    };
    // The standardwebhooks package's own verifier, with the tenant's secret.
    const verified = new Webhook(t.secret).verify(delivery!.body, headers) as { type: string; data: { id: string; result: { output: string } } };
    expect(verified.type).toBe('job.succeeded');
    expect(verified.data.id).toBe(id);
    expect(verified.data.result.output).toBe(job.result?.output);
    expect(() => new Webhook(generateWebhookSecret()).verify(delivery!.body, headers)).toThrow();
    console.warn(`job ${id}: succeeded; delivery verified by standardwebhooks (webhook-id ${headers['webhook-id']})`);
  });

  it("settles the submission's token reservation to the job's real usage", async () => {
    const t = await jobTenant();
    // The LMI model reports usage from the container, so the real count differs from the estimate.
    const res = await call(t.key, 'POST', '/v1/jobs', { model: 'mistral-7b-instruct-lmi', prompt: 'Settle my tokens', params: { max_tokens: 5 } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    let job: { status: string; result?: { usage: { prompt_tokens: number; completion_tokens: number } } } = { status: 'queued' };
    await waitFor(async () => {
      job = (await (await call(t.key, 'GET', `/v1/jobs/${id}`)).json()) as typeof job;
      return job.status === 'succeeded';
    });
    const used = job.result!.usage.prompt_tokens + job.result!.usage.completion_tokens;
    const reserved = Math.ceil(new TextEncoder().encode('Settle my tokens').length / 4) + 5;
    const dayWindow = async () => {
      const keys = await store.keys(`gw:rl:tokens:day:${t.tenant.tenantId}:*`);
      return (await Promise.all(keys.map(async (k) => Number(await store.get<number>(k))))).reduce((a, b) => a + b, 0);
    };
    // The isolate's quota lease holds units beyond the job's until it goes idle and gives them back.
    let day = await dayWindow();
    await waitFor(async () => {
      day = await dayWindow();
      return day === used;
    }).catch(() => undefined);
    console.warn(`job token settle: reserved ${reserved}, job used ${used}, day window holds ${day}`);
    expect(used).not.toBe(reserved);
    expect(day).toBe(used);
  });

  it("answers 404 for another tenant's job", async () => {
    const owner = await jobTenant();
    const other = await jobTenant();
    const { id } = (await (await call(owner.key, 'POST', '/v1/jobs', { model, prompt: 'mine', params: { max_tokens: 2 } })).json()) as { id: string };
    expect((await call(other.key, 'GET', `/v1/jobs/${id}`)).status).toBe(404);
    expect((await call(owner.key, 'GET', `/v1/jobs/${id}`)).status).toBe(200);
    expect((await call(owner.key, 'GET', '/v1/jobs/job_doesnotexist000')).status).toBe(404);
  });

  it("refuses a priority above the plan's, a callback URL that fails the SSRF guard, and a key without the jobs scope", async () => {
    const t = await jobTenant({ plan: 'free' });
    expect((await call(t.key, 'POST', '/v1/jobs', { model, prompt: 'p', priority: 'vip' })).status).toBe(403);
    for (const url of [
      'http://example.com/cb',
      'https://169.254.169.254/latest',
      'https://10.0.0.1/cb',
      'https://[fd00:ec2::254]/x',
      'https://192.168.1.1/cb',
      'https://metadata.google.internal/x',
    ]) {
      const res = await call(t.key, 'POST', '/v1/jobs', { model, prompt: 'p', callback_url: url });
      expect(res.status, url).toBe(400);
    }
    const inferOnly = await seedTenantKey({ scopes: ['infer'] });
    expect((await call(inferOnly.key, 'POST', '/v1/jobs', { model, prompt: 'p' })).status).toBe(403);
  });

  it('replays the first 202 for a retried submission with the same Idempotency-Key, and 409s a different body', async () => {
    const t = await jobTenant();
    const submit = (body: unknown) =>
      SELF.fetch(`${BASE}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json', 'idempotency-key': `job-${t.tenant.tenantId}` },
        body: JSON.stringify(body),
      });
    const body = { model, prompt: 'Only once, please', params: { max_tokens: 2 } };
    const first = await submit(body);
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    let again = await submit(body);
    // The first answer is stored in waitUntil: until then the key reads as in progress (409).
    for (let i = 0; i < 50 && again.status === 409; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await submit(body);
    }
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(((await again.json()) as { id: string }).id).toBe(id);
    expect((await submit({ ...body, prompt: 'something else' })).status).toBe(409);
  });

  it('applies the rate limits of sync requests at submission', async () => {
    const t = await jobTenant({ overrides: { requestsPerMinute: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(t.key, 'POST', '/v1/jobs', { model, prompt: `limited ${i}`, params: { max_tokens: 2 } })).status);
    console.warn(`jobs under a 2/min limit: ${statuses.join(', ')}`);
    expect(statuses).toEqual([202, 202, 429, 429]);
  });

  it('stops retrying a delivery when the receiver answers 410 Gone', async () => {
    const t = await jobTenant();
    await receiverBehaves(t.path, { status: 410 });
    const { id } = (await (await call(t.key, 'POST', '/v1/jobs', { model, prompt: 'gone', params: { max_tokens: 2 } })).json()) as { id: string };
    let job: { delivery?: { status: string; attempts: number } } = {};
    await waitFor(async () => {
      job = (await (await call(t.key, 'GET', `/v1/jobs/${id}`)).json()) as typeof job;
      return job.delivery?.status === 'gone';
    });
    expect(job.delivery?.attempts).toBe(1);
    expect((await receivedAt(t.path)).hits).toBe(1);
  });
});
