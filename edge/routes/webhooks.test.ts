/**
 * Webhook ingest in workerd against the real local stack (Redis through the bridge, Cloudflare
 * Queues in miniflare, the receiver as forward target): senders of both schemes are accepted and
 * forwarded once; every bad input is refused with the envelope and never forwarded; duplicates and
 * concurrent duplicates enqueue once; a failed enqueue answers 503 and releases the id; a replay of
 * a signed request is deduplicated on what is signed, whatever unsigned headers it carries.
 */
import { env, SELF } from 'cloudflare:test';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { createApp } from '../app';
import { BASE, senderIp, forwardedIds, newEvent, receivedAt, receiverBehaves, secrets, sendStandard, sendStripe } from '../testing/webhooks';

const waitFor = (check: () => Promise<boolean>) => vi.waitUntil(check, { timeout: 20_000, interval: 100 });

afterEach(async () => {
  await receiverBehaves('/events/ingest', {});
});

describe('POST /webhooks/{source}', () => {
  it('accepts a sender using the standardwebhooks package and forwards the event once, SigV4-signed', async () => {
    const event = newEvent();
    const res = await sendStandard(JSON.stringify(event), { msgId: `msg_${event.id}` });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ id: event.id, source: 'ingest', status: 'accepted' });
    await waitFor(async () => (await forwardedIds('/events/ingest')).includes(event.id));
    const forwarded = (await receivedAt('/events/ingest')).received.find((r) => JSON.parse(r.body).id === event.id)!;
    expect(forwarded.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=.*\/lambda\/aws4_request/);
    expect(forwarded.headers['idempotency-key']).toBe(`msg_${event.id}`);
    expect(JSON.parse(forwarded.body)).toMatchObject({ source: 'ingest', id: event.id, type: event.type, payload: event.payload });
  });

  it('accepts a signature made with the previous secret during a rotation', async () => {
    const event = newEvent();
    const res = await sendStandard(JSON.stringify(event), { msgId: `msg_${event.id}`, secret: secrets.ingest[1] });
    expect(res.status).toBe(202);
  });

  it("accepts a sender following Stripe's documented Stripe-Signature scheme", async () => {
    const event = newEvent('invoice.paid');
    const res = await sendStripe(JSON.stringify(event));
    expect(res.status).toBe(202);
    await waitFor(async () => (await forwardedIds('/events/stripe')).includes(event.id));
  });

  it('answers a duplicate with 200 and the first acceptance, and forwards it once', async () => {
    const event = newEvent();
    const body = JSON.stringify(event);
    const first = await sendStandard(body, { msgId: `msg_${event.id}` });
    const firstBody = await first.json();
    const again = await sendStandard(body, { msgId: `msg_${event.id}` });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(firstBody);
    const conflict = await sendStandard(JSON.stringify({ ...event, type: 'other' }), { msgId: `msg_${event.id}` });
    expect(conflict.status).toBe(409);
    await waitFor(async () => (await forwardedIds('/events/ingest')).includes(event.id));
    // Give a wrongly enqueued second copy time to arrive before counting.
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await forwardedIds('/events/ingest')).filter((id) => id === event.id)).toHaveLength(1);
  });

  it('enqueues 10 concurrent deliveries of one id exactly once', async () => {
    const event = newEvent();
    const body = JSON.stringify(event);
    const answers = await Promise.all(Array.from({ length: 10 }, () => sendStandard(body, { msgId: `msg_${event.id}` })));
    const statuses = answers.map((r) => r.status);
    console.warn(
      `concurrent duplicates: ${statuses.filter((s) => s === 202).length} accepted, ${statuses.filter((s) => s === 200).length} answered as duplicates`,
    );
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.every((s) => s === 202 || s === 200)).toBe(true);
    await waitFor(async () => (await forwardedIds('/events/ingest')).includes(event.id));
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await forwardedIds('/events/ingest')).filter((id) => id === event.id)).toHaveLength(1);
  });

  it('refuses every bad input with the envelope and forwards none of them', async () => {
    const now = new Date();
    const cases: Array<{ name: string; status: number; send: (e: ReturnType<typeof newEvent>) => Promise<Response> }> = [
      { name: 'no signature headers', status: 401, send: (e) => post('/webhooks/ingest', JSON.stringify(e), {}) },
      {
        name: 'garbled signature',
        status: 401,
        send: (e) =>
          post('/webhooks/ingest', JSON.stringify(e), {
            'webhook-id': e.id,
            'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
            'webhook-signature': 'v1,@@@',
          }),
      },
      { name: 'wrong secret', status: 401, send: (e) => sendStandard(JSON.stringify(e), { msgId: e.id, secret: `whsec_${btoa('x'.repeat(32))}` }) },
      {
        name: 'body changed by one byte',
        status: 401,
        send: (e) => {
          const body = JSON.stringify(e);
          const sig = new Webhook(secrets.ingest[0]).sign(e.id, now, body);
          return post('/webhooks/ingest', body.replace('42', '43'), {
            'webhook-id': e.id,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': sig,
          });
        },
      },
      { name: 'timestamp 301 s old', status: 401, send: (e) => sendStandard(JSON.stringify(e), { msgId: e.id, at: new Date(Date.now() - 301_000) }) },
      { name: 'timestamp 301 s in the future', status: 401, send: (e) => sendStandard(JSON.stringify(e), { msgId: e.id, at: new Date(Date.now() + 301_000) }) },
      { name: 'oversized body', status: 413, send: (e) => sendStandard(JSON.stringify({ ...e, payload: 'x'.repeat(1_100_000) }), { msgId: e.id }) },
      { name: 'wrong content type', status: 415, send: (e) => sendStandard(JSON.stringify(e), { msgId: e.id, headers: { 'content-type': 'text/plain' } }) },
      { name: 'unknown source', status: 404, send: (e) => post('/webhooks/nope', JSON.stringify(e), {}) },
      { name: 'body not {id, type, payload}', status: 400, send: (e) => sendStandard(JSON.stringify({ id: e.id, kind: 'x' }), { msgId: e.id }) },
      { name: 'malformed JSON', status: 400, send: (e) => sendStandard(`{"id":"${e.id}",`, { msgId: e.id }) },
    ];
    const ids: string[] = [];
    for (const c of cases) {
      const event = newEvent();
      ids.push(event.id);
      const res = await c.send(event);
      expect(res.status, c.name).toBe(c.status);
      expect(ErrorEnvelopeSchema.safeParse(await res.json()).success, c.name).toBe(true);
    }
    // A good event sent after them all arrives; none of the refused ones did.
    const good = newEvent();
    await sendStandard(JSON.stringify(good), { msgId: good.id });
    await waitFor(async () => (await forwardedIds('/events/ingest')).includes(good.id));
    const forwarded = await forwardedIds('/events/ingest');
    console.warn(`bad inputs: ${cases.length} refused, ${ids.filter((id) => forwarded.includes(id)).length} forwarded`);
    expect(ids.filter((id) => forwarded.includes(id))).toEqual([]);
  });

  it('answers 503 with Retry-After when the queue refuses, and releases the id for the retry', async () => {
    const app = createApp();
    const failing = { send: async () => Promise.reject(new Error('queue unavailable')), sendBatch: async () => Promise.reject(new Error('queue unavailable')) };
    const event = newEvent();
    const body = JSON.stringify(event);
    const at = new Date();
    const headers = {
      'content-type': 'application/json',
      'webhook-id': event.id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secrets.ingest[0]).sign(event.id, at, body),
    };
    const down = await app.request(`${BASE}/webhooks/ingest`, { method: 'POST', headers, body }, { ...env, WEBHOOK_QUEUE: failing });
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBeTruthy();
    expect(ErrorEnvelopeSchema.parse(await down.json()).error.code).toBe('UPSTREAM_ERROR');
    const retried = await sendStandard(body, { msgId: event.id, at });
    expect(retried.status).toBe(202);
  });
});

describe('replays of signed requests', () => {
  it('answers a captured X-Signature request replayed with a new Idempotency-Key and other unsigned headers changed with the first result, and forwards it once', async () => {
    const event = newEvent('payment.captured');
    const body = JSON.stringify(event);
    const t = Math.floor(Date.now() / 1000);
    const captured = { 'x-signature': await xSignature(body, t) };
    const first = await post('/webhooks/legacy', body, { ...captured, 'idempotency-key': event.id, 'user-agent': 'sender/1.0' });
    expect(first.status).toBe(202);
    const firstBody = await first.json();

    const replays: Record<string, string>[] = [
      { 'idempotency-key': `replay-${crypto.randomUUID()}`, 'user-agent': 'replayer/6.6', 'x-request-id': crypto.randomUUID() },
      { 'idempotency-key': `replay-${crypto.randomUUID()}`, 'x-forwarded-for': '203.0.113.9', 'x-timestamp': String(t + 100) },
      {},
    ];
    const statuses: number[] = [];
    for (const extra of replays) {
      const again = await post('/webhooks/legacy', body, { ...captured, ...extra });
      statuses.push(again.status);
      expect(await again.json()).toEqual(firstBody);
    }
    // The sender's own retry, re-signed with a new timestamp, is the same delivery.
    const resigned = await post('/webhooks/legacy', body, { 'x-signature': await xSignature(body, t + 30) });
    statuses.push(resigned.status);
    expect(await resigned.json()).toEqual(firstBody);

    await waitFor(async () => (await forwardedIds('/events/legacy')).includes(event.id));
    // Give a wrongly enqueued second copy time to arrive before counting.
    await new Promise((r) => setTimeout(r, 2_500));
    const forwarded = (await receivedAt('/events/legacy')).received.filter((r) => JSON.parse(r.body).id === event.id);
    console.warn(`X-Signature replays: statuses ${JSON.stringify(statuses)}, forwarded ${forwarded.length} time(s)`);
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]!.headers['idempotency-key']).toBe(event.id);
  });

  it("refuses an X-Signature delivery whose Idempotency-Key is not the body's id with 400 naming it, and accepts the delivery without it", async () => {
    const event = newEvent();
    const body = JSON.stringify(event);
    const signature = { 'x-signature': await xSignature(body, Math.floor(Date.now() / 1000)) };
    const refused = await post('/webhooks/legacy', body, { ...signature, 'idempotency-key': 'some-other-id' });
    expect(refused.status).toBe(400);
    const envelope = ErrorEnvelopeSchema.parse(await refused.json());
    expect(envelope.error.code).toBe('INVALID_INPUT');
    expect(envelope.error.message).toMatch(/Idempotency-Key/);
    expect(envelope.error.details?.issues).toEqual([{ path: 'Idempotency-Key', message: `must equal the body's id '${event.id}'` }]);
    // The refused attempt left nothing behind: the same delivery goes through at once.
    const accepted = await post('/webhooks/legacy', body, signature);
    expect(accepted.status).toBe(202);
    await waitFor(async () => (await forwardedIds('/events/legacy')).includes(event.id));
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await forwardedIds('/events/legacy')).filter((id) => id === event.id)).toHaveLength(1);
  });

  it('keeps the signed webhook-id as the Standard Webhooks delivery id, whatever Idempotency-Key a replay adds', async () => {
    const event = newEvent();
    const body = JSON.stringify(event);
    const at = new Date();
    const first = await sendStandard(body, { msgId: `msg_${event.id}`, at });
    expect(first.status).toBe(202);
    const firstBody = await first.json();
    const replay = await sendStandard(body, { msgId: `msg_${event.id}`, at, headers: { 'idempotency-key': `replay-${crypto.randomUUID()}` } });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual(firstBody);
    await waitFor(async () => (await forwardedIds('/events/ingest')).includes(event.id));
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await forwardedIds('/events/ingest')).filter((id) => id === event.id)).toHaveLength(1);
  });
});

/** `X-Signature: t=<t>,v1=<hex HMAC-SHA256 of "t.body">` with the legacy source's secret, written independently of shared/crypto. */
async function xSignature(body: string, t: number, secret = secrets.legacy): Promise<string> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${t}.${body}`)));
  return `t=${t},v1=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

function post(path: string, body: string, headers: Record<string, string>) {
  return SELF.fetch(`${BASE}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': senderIp(), ...headers }, body });
}
