/**
 * Every route of the README under each store outage (the outage bridge answering 503, dropping
 * connections, stalling 5 s): each answers within its deadline with a status other than 500, the
 * error envelope when it fails, and nothing a client must not see (no stack trace, no internal
 * address). The key is warm in the isolate, as for a client already using the gateway; the
 * per-path guarantees (503 + Retry-After where a store write is required) are in
 * routes/store-outage.test.ts.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ErrorEnvelopeSchema } from '../shared/errors';
import { createApp } from './app';
import { BASE } from './testing/gateway-client';
import { seedTenantKey } from './testing/seed';
import { clearStoreFaults, outageBindings, STORE_OUTAGES, setStoreFaults } from './testing/store-faults';
import { newEvent, secrets, senderIp } from './testing/webhooks';

const model = inject('model');
const STORE_TIMEOUT_MS = 1_000;
/** What any route may take under an outage: one store deadline, the work itself, and slack for a loaded machine. */
const ROUTE_DEADLINE_MS = 4_000;

afterEach(async () => {
  await clearStoreFaults();
});

type Send = (path: string, init?: RequestInit) => Promise<{ status: number; body: string; ms: number }>;

function gateway(): Send {
  const app = createApp();
  const bindings = outageBindings({ STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) });
  return async (path, init = {}) => {
    const ctx = createExecutionContext();
    const started = Date.now();
    const res = await app.request(`${BASE}${path}`, init, bindings, ctx);
    const body = await res.text();
    const ms = Date.now() - started;
    await waitOnExecutionContext(ctx);
    return { status: res.status, body, ms };
  };
}

/** The README's routes, each as one request a client would send. */
function routes(key: string, operatorToken: string) {
  const auth = { authorization: `Bearer ${key}` };
  const json = (body: unknown, extra: Record<string, string> = {}) => ({
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', ...extra },
    body: JSON.stringify(body),
  });
  const infer = { model, prompt: `sweep ${crypto.randomUUID()}`, params: { max_tokens: 3 } };
  const chat = { model, messages: [{ role: 'user', content: `sweep ${crypto.randomUUID()}` }], max_tokens: 3 };
  const event = newEvent('sweep.test');
  const eventBody = JSON.stringify(event);
  const at = new Date();
  const webhookHeaders = {
    'content-type': 'application/json',
    'cf-connecting-ip': senderIp(),
    'webhook-id': event.id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secrets.ingest[0]!).sign(event.id, at, eventBody),
  };
  return [
    ['GET /health', '/health', {}],
    ['GET /ready', '/ready', {}],
    ['GET /openapi.json', '/openapi.json', {}],
    ['GET /v1/models', '/v1/models', { headers: auth }],
    ['POST /v1/infer', '/v1/infer', json(infer)],
    ['POST /v1/infer (cacheable)', '/v1/infer', json({ ...infer, params: { max_tokens: 3, temperature: 0 } })],
    ['POST /v1/infer/stream', '/v1/infer/stream', json(infer)],
    ['POST /v1/chat/completions', '/v1/chat/completions', json(chat)],
    ['POST /v1/chat/completions (stream)', '/v1/chat/completions', json({ ...chat, stream: true })],
    ['POST /v1/completions', '/v1/completions', json({ model, prompt: 'sweep', max_tokens: 3 })],
    ['POST /v1/embeddings', '/v1/embeddings', json({ model: 'bge-small-en-tei', input: [`sweep ${crypto.randomUUID()}`, 'cached?'] })],
    ['POST /v1/infer + Idempotency-Key', '/v1/infer', json(infer, { 'idempotency-key': crypto.randomUUID() })],
    ['POST /v1/jobs', '/v1/jobs', json(infer)],
    ['GET /v1/jobs/{id}', `/v1/jobs/job_${crypto.randomUUID().replaceAll('-', '')}`, { headers: auth }],
    ['GET /v1/admin/dlq', '/v1/admin/dlq', { headers: auth }],
    ['POST /v1/admin/dlq/redrive', '/v1/admin/dlq/redrive', json({ all: true })],
    ['GET /v1/operator/dlq', '/v1/operator/dlq', { headers: { authorization: `Bearer ${operatorToken}` } }],
    ['POST /webhooks/ingest', '/webhooks/ingest', { method: 'POST', headers: webhookHeaders, body: eventBody }],
  ] as const;
}

describe('every route under a store outage', () => {
  for (const outage of STORE_OUTAGES) {
    it(`answers every route without a 500 and within ${ROUTE_DEADLINE_MS} ms: ${outage.name}`, { timeout: 120_000 }, async () => {
      const { key } = await seedTenantKey({ plan: 'enterprise', scopes: ['infer', 'jobs', 'admin'] });
      const send = gateway();
      // A client already using the gateway: its key is warm in this isolate.
      expect((await send('/v1/models', { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      const operatorToken = String(outageBindings().OPERATOR_TOKEN ?? '');
      await setStoreFaults(outage.faults);
      const answers: string[] = [];
      for (const [name, path, init] of routes(key, operatorToken)) {
        const answer = await send(path, init as RequestInit);
        answers.push(`${name} ${answer.status} ${answer.ms}ms`);
        expect(answer.status, `${name}: ${answer.body}`).not.toBe(500);
        expect(answer.ms, name).toBeLessThan(ROUTE_DEADLINE_MS);
        expect(answer.body, name).not.toMatch(/\bat \S+\.(ts|js):\d+|127\.0\.0\.1|localhost:\d+/);
        if (answer.status >= 400 && path !== '/ready') expect(ErrorEnvelopeSchema.safeParse(JSON.parse(answer.body)).success, name).toBe(true);
      }
      console.warn(`${outage.name}: ${answers.join('; ')}`);
    });
  }
});
