/**
 * Store outages on request paths, rehearsed with the outage bridge's fault knobs (503s, dropped
 * connections, a 5 s stall) against the real worker in workerd: each path answers within its
 * deadline with a defined status, never a 500 and never a hang, and once the fault is cleared
 * everything works again with nothing accepted lost.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { storeKeys, type TenantRecord } from '../../shared/contracts/tenancy';
import { generateWebhookSecret } from '../../shared/crypto/hmac';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { createApp } from '../app';
import { BASE, modelStats } from '../testing/gateway-client';
import { seedTenantKey, store } from '../testing/seed';
import { forwardedIds, newEvent, receiver, secrets, senderIp } from '../testing/webhooks';
import { clearStoreFaults, outageBindings, setStoreFaults, STORE_OUTAGES } from '../testing/store-faults';

const model = inject('model');
/** Every store call on a request path gives up after this long. */
const STORE_TIMEOUT_MS = 1_000;

afterEach(async () => {
  await clearStoreFaults();
});

/** An app whose store is the outage bridge; `send` times each request and waits for its background work. */
function gateway() {
  const app = createApp();
  const bindings = outageBindings({ STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) });
  return {
    async send(path: string, init: RequestInit & { headers?: Record<string, string> }) {
      const ctx = createExecutionContext();
      const started = Date.now();
      const res = await app.request(`${BASE}${path}`, init, bindings, ctx);
      const body = await res.text();
      const ms = Date.now() - started;
      return { res, body, ms, background: () => waitOnExecutionContext(ctx) };
    },
  };
}

const json = (key: string, body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
const get = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });

/** A tenant with a `jobs` key and a default callback on the receiver. */
async function jobTenant() {
  const seeded = await seedTenantKey({ scopes: ['jobs', 'infer'] });
  const tenant: TenantRecord = { ...seeded.tenant, callbackUrl: `${receiver}/callbacks/${seeded.tenant.tenantId}`, webhookSecrets: [generateWebhookSecret()] };
  await store.set(storeKeys.tenant(tenant.tenantId), tenant);
  return seeded;
}

/** The answer a store outage must get: 503 UPSTREAM_ERROR with Retry-After, within `limitMs`. */
function expectStoreUnavailable(answer: { res: Response; body: string; ms: number }, limitMs = STORE_TIMEOUT_MS + 700) {
  expect(answer.res.status).toBe(503);
  expect(answer.res.headers.get('retry-after')).toBe('5');
  const envelope = ErrorEnvelopeSchema.parse(JSON.parse(answer.body));
  expect(envelope.error.code).toBe('UPSTREAM_ERROR');
  expect(envelope.error.details?.retry_after).toBe(5);
  expect(answer.ms).toBeLessThan(limitMs);
}

const waitFor = (check: () => Promise<boolean>) => vi.waitUntil(check, { timeout: 25_000, interval: 200 });

describe.each(STORE_OUTAGES)('store $name', ({ name, faults }) => {
  const report = (path: string, answer: { res: Response; ms: number }) => console.warn(`store ${name}: ${path} → ${answer.res.status} in ${answer.ms} ms`);

  it('keeps serving a plain inference request (fail-open limits, no other store call)', async () => {
    const gw = gateway();
    const { key } = await seedTenantKey();
    const infer = (prompt: string) => gw.send('/v1/infer', json(key, { model, prompt, params: { max_tokens: 2, temperature: 0.7 } }));
    expect((await infer('warm the key cache')).res.status).toBe(200);
    await setStoreFaults(faults);
    const during = await infer('during the outage');
    report('POST /v1/infer', during);
    expect(during.res.status).toBe(200);
    expect(during.ms).toBeLessThan(STORE_TIMEOUT_MS + 1_500);
    await clearStoreFaults();
    expect((await infer('after the outage')).res.status).toBe(200);
  });

  it('keeps serving a cacheable inference request, sync and streamed (the L2 lookup is bounded too)', async () => {
    const gw = gateway();
    const { key } = await seedTenantKey();
    const infer = (path: string, prompt: string) => gw.send(path, json(key, { model, prompt, params: { max_tokens: 2, temperature: 0 } }));
    expect((await infer('/v1/infer', 'warm the key cache')).res.status).toBe(200);
    await setStoreFaults(faults);
    for (const path of ['/v1/infer', '/v1/infer/stream']) {
      const during = await infer(path, `cacheable ${crypto.randomUUID()}`);
      report(`POST ${path} (cacheable)`, during);
      expect(during.res.status).toBe(200);
      expect(during.ms).toBeLessThan(STORE_TIMEOUT_MS + 1_500);
    }
  });

  it('answers POST /v1/infer with an Idempotency-Key 503 without calling the backend, and runs it once the store is back', async () => {
    const gw = gateway();
    const { key } = await seedTenantKey();
    expect((await gw.send('/v1/infer', json(key, { model, prompt: 'warm', params: { max_tokens: 2 } }))).res.status).toBe(200);
    const idem = crypto.randomUUID();
    const body = { model, prompt: 'charge me once, outage or not', params: { max_tokens: 3, temperature: 0.8 } };
    await setStoreFaults(faults);
    const invocations = (await modelStats()).invocations;
    const during = await gw.send('/v1/infer', json(key, body, { 'idempotency-key': idem }));
    report('POST /v1/infer + Idempotency-Key', during);
    expectStoreUnavailable(during);
    expect((await modelStats()).invocations).toBe(invocations);
    await clearStoreFaults();
    const after = await gw.send('/v1/infer', json(key, body, { 'idempotency-key': idem }));
    expect(after.res.status).toBe(200);
    await after.background();
    const replay = await gw.send('/v1/infer', json(key, body, { 'idempotency-key': idem }));
    expect(replay.res.status).toBe(200);
    expect(replay.res.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toBe(after.body);
    expect((await modelStats()).invocations).toBe(invocations + 1);
  });

  it.each([
    { label: 'without', idempotent: false },
    { label: 'with', idempotent: true },
  ])('answers POST /v1/jobs $label an Idempotency-Key 503, and accepts and runs the job once the store is back', async ({ label, idempotent }) => {
    const gw = gateway();
    const { key } = await jobTenant();
    const extra: Record<string, string> = idempotent ? { 'idempotency-key': crypto.randomUUID() } : {};
    const body = { model, prompt: 'an async job through an outage', params: { max_tokens: 2 } };
    expect((await gw.send('/v1/jobs', json(key, { ...body, prompt: 'warm' }))).res.status).toBe(202);
    await setStoreFaults(faults);
    const during = await gw.send('/v1/jobs', json(key, body, extra));
    report(`POST /v1/jobs ${label} Idempotency-Key`, during);
    expectStoreUnavailable(during);
    await clearStoreFaults();
    const after = await gw.send('/v1/jobs', json(key, body, extra));
    expect(after.res.status).toBe(202);
    const { id } = JSON.parse(after.body) as { id: string };
    await after.background();
    if (idempotent) {
      const replay = await gw.send('/v1/jobs', json(key, body, extra));
      expect(replay.res.headers.get('idempotent-replayed')).toBe('true');
      expect((JSON.parse(replay.body) as { id: string }).id).toBe(id);
    }
    await waitFor(async () => (JSON.parse((await gw.send(`/v1/jobs/${id}`, get(key))).body) as { status: string }).status === 'succeeded');
  });

  it('answers GET /v1/jobs/{id} 503, and the job is there once the store is back', async () => {
    const gw = gateway();
    const { key } = await jobTenant();
    const submitted = await gw.send('/v1/jobs', json(key, { model, prompt: 'read me through an outage', params: { max_tokens: 2 } }));
    expect(submitted.res.status).toBe(202);
    const { id } = JSON.parse(submitted.body) as { id: string };
    await setStoreFaults(faults);
    const during = await gw.send(`/v1/jobs/${id}`, get(key));
    report('GET /v1/jobs/{id}', during);
    expectStoreUnavailable(during);
    await clearStoreFaults();
    await waitFor(async () => {
      const res = await gw.send(`/v1/jobs/${id}`, get(key));
      return res.res.status === 200 && (JSON.parse(res.body) as { status: string }).status === 'succeeded';
    });
  });

  it('answers a signed webhook 503 without enqueueing it, then accepts the retry and forwards it once', async () => {
    const gw = gateway();
    const event = newEvent();
    const body = JSON.stringify(event);
    const signed = () => {
      const at = new Date();
      return {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'cf-connecting-ip': senderIp(),
          'webhook-id': event.id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': new Webhook(secrets.ingest[0]).sign(event.id, at, body),
        },
        body,
      };
    };
    await setStoreFaults(faults);
    const during = await gw.send('/webhooks/ingest', signed());
    report('POST /webhooks/ingest (signed)', during);
    expectStoreUnavailable(during);
    await clearStoreFaults();
    const retried = await gw.send('/webhooks/ingest', signed());
    expect(retried.res.status).toBe(202);
    await waitFor(async () => (await forwardedIds('/events/ingest')).includes(event.id));
    // Give a wrongly enqueued second copy time to arrive before counting.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await forwardedIds('/events/ingest')).filter((id) => id === event.id)).toHaveLength(1);
  });
});
