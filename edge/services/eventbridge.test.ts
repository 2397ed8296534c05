/**
 * The edge's PutEvents client inside workerd against the local EventBridge stand-in, which verifies
 * SigV4 (service `events`) with the edge's credentials: a webhook event lands on the bus as one
 * entry with the webhook id in `detail`; more than 10 entries are split; an outage, failed entries,
 * a slow bus, a wrong key and an unreachable endpoint each come back as a typed, correctly
 * retryable failure within the deadline; an entry over 256 KB is refused without a call.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { eventBusName } from '../../shared/contracts/events';
import type { WebhookMessage } from '../queues/messages';
import { putEvents, webhookBusEntry, type BusEntry, type EventBridgeTarget } from './eventbridge';

const busUrl = inject('eventBridgeUrl');
const adminToken = inject('eventBridgeAdminToken');
const vars = inject('edgeVars');
const BUS = eventBusName(vars.ENVIRONMENT ?? 'local');

const target = (over: Partial<EventBridgeTarget> = {}): EventBridgeTarget => ({
  endpoint: `${busUrl}/`,
  region: vars.AWS_REGION ?? 'us-east-1',
  credentials: { accessKeyId: vars.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: vars.AWS_SECRET_ACCESS_KEY ?? '' },
  busName: BUS,
  ...over,
});

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${busUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

interface ListedEvent {
  id: string;
  source: string;
  'detail-type': string;
  time: string;
  detail: Record<string, unknown>;
  'event-bus-name': string;
}
const listed = (detailType: string) => admin<ListedEvent[]>('GET', `/admin/events?detail-type=${encodeURIComponent(detailType)}`);
const stats = () => admin<{ putRequests: number; rejectedRequests: number; acceptedEntries: number }>('GET', '/admin/stats');

afterEach(async () => {
  await admin('PUT', '/admin/config', { fault: null, delayMs: 0 });
});

const entry = (detailType: string, over: Partial<BusEntry> = {}): BusEntry => ({
  source: 'inference-gateway.webhook.test',
  detailType,
  detail: { n: 1 },
  ...over,
});

describe('putEvents', () => {
  it('puts a webhook event on the bus as one entry, with the webhook id in detail', async () => {
    const type = `invoice.paid.${crypto.randomUUID()}`;
    const message: WebhookMessage = {
      kind: 'webhook',
      source: 'stripe',
      deliveryId: `msg_${crypto.randomUUID()}`,
      event: { id: 'evt_1', type, payload: { amount: 4200, note: 'quotes " and \\ survive' } },
      receivedAt: Date.UTC(2026, 4, 6, 7, 8, 9),
      requestId: 'req_eventbridge_test',
    };
    const outcome = await putEvents(target(), [webhookBusEntry(message)]);
    expect(outcome).toEqual({ ok: true, eventIds: [expect.stringMatching(/^[0-9a-f-]{36}$/)] });
    const [event, ...rest] = await listed(type);
    expect(rest).toEqual([]);
    expect(event).toMatchObject({
      id: outcome.eventIds[0],
      source: 'inference-gateway.webhook.stripe',
      'detail-type': type,
      time: '2026-05-06T07:08:09Z',
      'event-bus-name': BUS,
      detail: {
        webhook_id: message.deliveryId,
        source: 'stripe',
        event: message.event,
        received_at: Math.floor(message.receivedAt / 1000),
        request_id: 'req_eventbridge_test',
      },
    });
  });

  it('splits more than 10 entries into calls of at most 10, keeping the input order of ids', async () => {
    const type = `batch.${crypto.randomUUID()}`;
    const before = await stats();
    const outcome = await putEvents(
      target(),
      Array.from({ length: 23 }, (_, i) => entry(type, { detail: { i } })),
    );
    expect(outcome.ok).toBe(true);
    const after = await stats();
    expect(after.putRequests - before.putRequests).toBe(3);
    const events = await listed(type);
    expect(events.map((e) => e.detail.i)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(events.map((e) => e.id)).toEqual(outcome.eventIds);
  });

  it('reports a bus outage as a retryable failure and puts nothing', async () => {
    const type = `outage.${crypto.randomUUID()}`;
    await admin('PUT', '/admin/config', { fault: 'unavailable' });
    const outcome = await putEvents(target(), [entry(type)]);
    expect(outcome).toMatchObject({ ok: false, retryable: true, reason: 'PutEvents answered 503 ServiceUnavailable: Service is unavailable.' });
    await admin('PUT', '/admin/config', { fault: 'throttled' });
    expect(await putEvents(target(), [entry(type)])).toMatchObject({ ok: false, retryable: true, failed: [{ index: 0, code: 'ThrottlingException' }] });
    expect(await listed(type)).toEqual([]);
  });

  it('treats FailedEntryCount > 0 as a failure, retryable for InternalFailure', async () => {
    const type = `failed.${crypto.randomUUID()}`;
    await admin('PUT', '/admin/config', { fault: 'failed-entries' });
    const outcome = await putEvents(target(), [entry(type), entry(type)]);
    expect(outcome).toMatchObject({
      ok: false,
      retryable: true,
      failed: [
        { index: 0, code: 'InternalFailure', retryable: true },
        { index: 1, code: 'InternalFailure', retryable: true },
      ],
      eventIds: [undefined, undefined],
    });
    expect(outcome.ok || outcome.reason).toBe('2 of 2 entries failed (first: InternalFailure Internal failure.)');
  });

  it('fails only the bad entry, not retryable when its code is permanent, and keeps the ids of the others', async () => {
    const type = `mixed.${crypto.randomUUID()}`;
    const outcome = await putEvents(target(), [entry(type), entry(type, { source: 'aws.s3' }), entry(type)]);
    expect(outcome).toMatchObject({ ok: false, retryable: false, failed: [{ index: 1, code: 'NotAuthorizedForSourceException', retryable: false }] });
    if (outcome.ok) return;
    expect(outcome.eventIds[0]).toBeDefined();
    expect(outcome.eventIds[1]).toBeUndefined();
    expect((await listed(type)).map((e) => e.id)).toEqual([outcome.eventIds[0], outcome.eventIds[2]]);
  });

  it('gives up on a slow bus at the deadline, as a retryable timeout', async () => {
    await admin('PUT', '/admin/config', { delayMs: 2_000 });
    const started = performance.now();
    const outcome = await putEvents(target({ timeoutMs: 300 }), [entry(`slow.${crypto.randomUUID()}`)]);
    const took = performance.now() - started;
    expect(outcome).toMatchObject({ ok: false, retryable: true, failed: [{ code: 'Timeout' }], reason: 'PutEvents did not answer in time' });
    expect(took).toBeLessThan(1_500);
    console.warn(`PutEvents against a 2 s bus with a 300 ms deadline gave up after ${Math.round(took)} ms`);
  });

  it('reports a wrong key as not retryable, and an unreachable endpoint as retryable', async () => {
    const wrong = await putEvents(target({ credentials: { accessKeyId: vars.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: 'not-the-secret' } }), [entry('x')]);
    expect(wrong).toMatchObject({ ok: false, retryable: false, failed: [{ code: 'InvalidSignatureException' }] });
    if (!wrong.ok) expect(wrong.reason).not.toContain('not-the-secret');
    const unreachable = await putEvents(target({ endpoint: 'http://127.0.0.1:1/' }), [entry('x')]);
    expect(unreachable).toMatchObject({ ok: false, retryable: true, failed: [{ code: 'Unreachable' }] });
  });

  it('refuses an entry over 256 KB without calling the bus, and still sends the others', async () => {
    const type = `big.${crypto.randomUUID()}`;
    const before = await stats();
    const outcome = await putEvents(target(), [entry(type, { detail: { blob: 'x'.repeat(256 * 1024) } }), entry(type)]);
    expect(outcome).toMatchObject({ ok: false, retryable: false, failed: [{ index: 0, code: 'EntryTooLarge', retryable: false }] });
    const after = await stats();
    expect(after.rejectedRequests).toBe(before.rejectedRequests);
    expect(after.acceptedEntries - before.acceptedEntries).toBe(1);
  });
});
