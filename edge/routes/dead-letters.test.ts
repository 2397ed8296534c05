/**
 * Dead letters in workerd, recorded by the worker's real DLQ consumer (miniflare's queue) in Redis
 * through the bridge: a tenant's admin key sees and redrives only its own tenant's letters, another
 * tenant's letter is a 404 to it, and only the operator credential (OPERATOR_TOKEN, which `npm start`
 * and the test stack configure) sees every letter, the webhook events' included. No API key, whatever
 * its scopes, passes as the operator credential.
 */
import { createExecutionContext, env, SELF } from 'cloudflare:test';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { OPERATOR_TOKEN_PATTERN } from '../../shared/contracts/tenancy';
import { createApp } from '../app';
import { EdgeConfigError, getConfig, type Bindings } from '../env';
import { DLQ_KEY } from '../queues/dead-letters';
import type { DeadLetterMessage, LiveMessage } from '../queues/messages';
import { seedTenantKey, store, type SeededKey } from '../testing/seed';

const bindings = env as unknown as Bindings;
const operatorToken = bindings.OPERATOR_TOKEN ?? '';
const BASE = 'https://gateway.test';

interface Letter {
  readonly id: string;
  readonly tenantId?: string;
  readonly original: { readonly kind: string; readonly jobId?: string; readonly event?: { readonly id: string } };
}

const unique = () => crypto.randomUUID().replaceAll('-', '').slice(0, 20);

/** Puts a dead letter on the DLQ and waits until the worker's consumer has recorded it; its record id. */
async function deadLetter(original: LiveMessage, subject: string): Promise<string> {
  const body: DeadLetterMessage = { kind: 'dead-letter', original, reason: 'UPSTREAM_ERROR: test', attempts: 3, failedAt: Date.now() };
  await bindings.DEAD_LETTER_QUEUE?.send(body);
  let id: string | undefined;
  await vi.waitUntil(
    async () => {
      const all = (await store.hgetall<Record<string, Letter>>(DLQ_KEY)) ?? {};
      id = Object.entries(all).find(([, l]) => (l.original.jobId ?? l.original.event?.id) === subject)?.[0];
      return id !== undefined;
    },
    { timeout: 20_000, interval: 200 },
  );
  return id ?? '';
}

const jobLetter = (tenantId: string) => {
  const jobId = `job_${unique()}`;
  return deadLetter({ kind: 'job', jobId, tenantId, priority: 'standard' }, jobId);
};

// This file's own client address: its refused credentials count against it, not the address other files share.
const IP = `198.18.0.${Math.floor(Math.random() * 250)}`;
const get = (path: string, credential: string) => SELF.fetch(`${BASE}${path}`, { headers: { authorization: `Bearer ${credential}`, 'cf-connecting-ip': IP } });
const post = (path: string, credential: string, body: unknown) =>
  SELF.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json', 'cf-connecting-ip': IP },
    body: JSON.stringify(body),
  });
const lettersOf = async (res: Response) => ((await res.json()) as { dead_letters: Letter[] }).dead_letters;
const stillRecorded = async (id: string) => (await store.hget(DLQ_KEY, id)) !== null;

let a: SeededKey;
let b: SeededKey;
let aJob: string;
let aDelivery: string;
let bJob: string;
let webhook: string;

beforeAll(async () => {
  [a, b] = await Promise.all([seedTenantKey({ scopes: ['admin'] }), seedTenantKey({ scopes: ['infer', 'jobs', 'webhooks:ingest', 'admin'] })]);
  const deliveryJob = `job_${unique()}`;
  const eventId = `evt_${unique()}`;
  [aJob, aDelivery, bJob, webhook] = await Promise.all([
    jobLetter(a.tenant.tenantId),
    deadLetter({ kind: 'delivery', deliveryId: `msg_${unique()}`, jobId: deliveryJob, tenantId: a.tenant.tenantId }, deliveryJob),
    jobLetter(b.tenant.tenantId),
    deadLetter(
      {
        kind: 'webhook',
        source: 'ingest',
        deliveryId: eventId,
        event: { id: eventId, type: 'test.event', payload: { secret: 'webhook payload' } },
        receivedAt: Date.now(),
        requestId: 'req-dlq-test',
      },
      eventId,
    ),
  ]);
});

describe('dead letters per tenant', () => {
  it('records each letter with the tenant it belongs to, and none for a webhook event', async () => {
    const record = async (id: string) => (await store.hget<{ tenantId?: string }>(DLQ_KEY, id)) ?? {};
    expect((await record(aJob)).tenantId).toBe(a.tenant.tenantId);
    expect((await record(aDelivery)).tenantId).toBe(a.tenant.tenantId);
    expect((await record(bJob)).tenantId).toBe(b.tenant.tenantId);
    expect((await record(webhook)).tenantId).toBeUndefined();
  });

  it("shows tenant B's admin key none of A's letters and no webhook letter; A's key only A's", async () => {
    const forB = await get('/v1/admin/dlq', b.key);
    expect(forB.status).toBe(200);
    const bIds = (await lettersOf(forB)).map((l) => l.id);
    const forA = await lettersOf(await get('/v1/admin/dlq', a.key));
    console.warn(`dlq: tenant B's admin key sees ${bIds.length} letter(s), tenant A's ${forA.length}`);
    expect(bIds).toEqual([bJob]);
    expect(forA.map((l) => l.id).sort()).toEqual([aJob, aDelivery].sort());
    expect(forA.every((l) => l.tenantId === a.tenant.tenantId)).toBe(true);
  });

  it("answers tenant B's redrive of A's letter with 404 and redrives nothing, not even B's own in the same request", async () => {
    for (const ids of [[aJob], [webhook], [bJob, aJob]]) {
      const res = await post('/v1/admin/dlq/redrive', b.key, { ids });
      expect(res.status).toBe(404);
      const body = ErrorEnvelopeSchema.parse(await res.json());
      expect(body.error.code).toBe('NOT_FOUND');
      expect(JSON.stringify(body)).not.toContain(a.tenant.tenantId);
    }
    expect(await stillRecorded(aJob)).toBe(true);
    expect(await stillRecorded(webhook)).toBe(true);
    expect(await stillRecorded(bJob)).toBe(true);
  });

  it("redrives only the caller's own letters with {all: true}", async () => {
    const res = await post('/v1/admin/dlq/redrive', b.key, { all: true });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { redriven: string[] }).redriven).toEqual([bJob]);
    expect(await stillRecorded(bJob)).toBe(false);
    expect(await stillRecorded(aJob)).toBe(true);
    expect(await stillRecorded(aDelivery)).toBe(true);
    expect(await stillRecorded(webhook)).toBe(true);
  });

  it('needs the admin scope', async () => {
    const inferOnly = await seedTenantKey({ scopes: ['infer'] });
    expect((await get('/v1/admin/dlq', inferOnly.key)).status).toBe(403);
  });
});

describe('the operator credential', () => {
  it("sees every tenant's letters and the webhook events', and filters by tenant", async () => {
    expect(operatorToken).toMatch(OPERATOR_TOKEN_PATTERN);
    const res = await get('/v1/operator/dlq', operatorToken);
    expect(res.status).toBe(200);
    const ids = (await lettersOf(res)).map((l) => l.id);
    expect(ids).toEqual(expect.arrayContaining([aJob, aDelivery, webhook]));
    const onlyA = await lettersOf(await get(`/v1/operator/dlq?tenant=${a.tenant.tenantId}`, operatorToken));
    expect(onlyA.map((l) => l.id).sort()).toEqual([aJob, aDelivery].sort());
    expect((await get('/v1/operator/dlq?tenant=NOT%20A%20TENANT', operatorToken)).status).toBe(400);
  });

  it("redrives any tenant's letter and a webhook letter; an unknown id is a 404", async () => {
    expect((await post('/v1/operator/dlq/redrive', operatorToken, { ids: ['no-such-letter'] })).status).toBe(404);
    const res = await post('/v1/operator/dlq/redrive', operatorToken, { ids: [aDelivery, webhook] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { redriven: string[] }).redriven.sort()).toEqual([aDelivery, webhook].sort());
    expect(await stillRecorded(aDelivery)).toBe(false);
    expect(await stillRecorded(webhook)).toBe(false);
  });

  it('is never a tenant key: an admin key with every scope is refused on every operator route', async () => {
    const everything = await seedTenantKey({ scopes: ['infer', 'jobs', 'webhooks:ingest', 'admin'] });
    for (const key of [everything.key, a.key, b.key]) {
      const list = await get('/v1/operator/dlq', key);
      expect(list.status).toBe(401);
      expect(ErrorEnvelopeSchema.parse(await list.json()).error.message).toMatch(/never an operator credential/);
      expect((await post('/v1/operator/dlq/redrive', key, { all: true })).status).toBe(401);
    }
    // Nor does the operator credential pass as a tenant key: it has no tenant.
    expect((await get('/v1/admin/dlq', operatorToken)).status).toBe(401);
    expect((await get('/v1/operator/dlq', `${operatorToken.slice(0, -1)}${operatorToken.endsWith('A') ? 'B' : 'A'}`)).status).toBe(401);
    expect((await SELF.fetch(`${BASE}/v1/operator/dlq`, { headers: { 'cf-connecting-ip': IP } })).status).toBe(401);
    expect(await stillRecorded(aJob)).toBe(true);
  });

  it('cannot be configured as something shaped like an API key, and without one the operator routes refuse everyone', async () => {
    expect(() => getConfig({ ...bindings, OPERATOR_TOKEN: b.key })).toThrow(EdgeConfigError);
    expect(() => getConfig({ ...bindings, OPERATOR_TOKEN: 'short' })).toThrow(/OPERATOR_TOKEN|operatorToken/);
    const unconfigured = { ...bindings, OPERATOR_TOKEN: undefined };
    const res = await createApp().request(
      `${BASE}/v1/operator/dlq`,
      { headers: { authorization: `Bearer ${operatorToken}` } },
      unconfigured,
      createExecutionContext(),
    );
    expect(res.status).toBe(403);
  });
});
