/**
 * The `eventbridge` and `forward` actions in workerd, with Cloudflare Queues in miniflare and the
 * local EventBridge stand-in (SigV4-checked) as the environment's bus: with no fault every event
 * reaches the bus as exactly one entry, duplicates included; a bus outage is retried on the queue's
 * backoff, dead-lettered after the retries, and a redrive puts it on the bus exactly once; a forward
 * goes to its action's URL; an event no pattern matches is a dead letter, not a silent drop.
 */
import { env, SELF } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import { eventBusName, webhookEventSource } from '../../shared/contracts/events';
import { store } from '../testing/seed';
import { BASE, forwardedIds, newEvent, sendStandard } from '../testing/webhooks';
import { DLQ_KEY } from './dead-letters';

const busUrl = inject('eventBridgeUrl');
const adminToken = inject('eventBridgeAdminToken');
const BUS = eventBusName(inject('edgeVars').ENVIRONMENT ?? 'local');

const waitFor = (check: () => Promise<boolean>, timeout = 30_000) => vi.waitUntil(check, { timeout, interval: 200 });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function admin<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${busUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

interface BusEvent {
  id: string;
  source: string;
  'detail-type': string;
  'event-bus-name': string;
  detail: { webhook_id: string; source: string; event: { id: string; type: string; payload: unknown } };
}

const onBus = (detailType: string) => admin<BusEvent[]>('GET', `/admin/events?detail-type=${encodeURIComponent(detailType)}`);
const busStats = () => admin<{ putRequests: number; rejectedRequests: number }>('GET', '/admin/stats');

/** Dead letters recorded for the webhook event `eventId`, with their DLQ ids. */
async function lettersOf(eventId: string): Promise<Array<{ id: string; reason: string; attempts: number }>> {
  const all = (await store.hgetall<Record<string, { reason: string; attempts: number; original?: { kind: string; event?: { id: string } } }>>(DLQ_KEY)) ?? {};
  return Object.entries(all)
    .filter(([, d]) => d.original?.kind === 'webhook' && d.original.event?.id === eventId)
    .map(([id, d]) => ({ id, reason: d.reason, attempts: d.attempts }));
}

afterEach(async () => {
  await admin('PUT', '/admin/config', { fault: null, delayMs: 0 });
});

describe('the eventbridge action', () => {
  it('puts every event on the bus as exactly one entry, duplicates included', async () => {
    const type = `orders.created.${crypto.randomUUID().slice(0, 8)}`;
    const events = Array.from({ length: 5 }, (_, i) => newEvent(type, { order: i, note: 'quotes " survive' }));
    const statuses: number[] = [];
    for (const e of events) {
      for (let copy = 0; copy < 2; copy++) statuses.push((await sendStandard(JSON.stringify(e), { msgId: `msg_${e.id}`, source: 'jobs' })).status);
    }
    expect(statuses).toEqual(events.flatMap(() => [202, 200]));
    await waitFor(async () => (await onBus(type)).length >= events.length);
    await pause(2_500);
    const entries = await onBus(type);
    const perEvent = events.map((e) => entries.filter((x) => x.detail.event.id === e.id).length);
    console.warn(`eventbridge action: ${events.length} events sent twice each, entries per event on the bus ${JSON.stringify(perEvent)}`);
    expect(perEvent).toEqual(events.map(() => 1));
    const first = entries.find((x) => x.detail.event.id === events[0]!.id)!;
    expect(first).toMatchObject({
      source: webhookEventSource('jobs'),
      'detail-type': type,
      'event-bus-name': BUS,
      detail: { webhook_id: `msg_${events[0]!.id}`, source: 'jobs', event: events[0] },
    });
  });

  it('retries a bus outage on the queue backoff, dead-letters it after the retries, and a redrive delivers it exactly once', async () => {
    await admin('PUT', '/admin/config', { fault: 'unavailable' });
    const type = `orders.outage.${crypto.randomUUID().slice(0, 8)}`;
    const event = newEvent(type, { order: 'during the outage' });
    const before = await busStats();
    const started = Date.now();
    expect((await sendStandard(JSON.stringify(event), { msgId: event.id, source: 'jobs' })).status).toBe(202);
    await waitFor(async () => (await lettersOf(event.id)).length > 0, 60_000);
    const deadAfter = Date.now() - started;
    const letters = await lettersOf(event.id);
    const refused = (await busStats()).rejectedRequests - before.rejectedRequests;
    expect(letters).toEqual([expect.objectContaining({ reason: 'PutEvents answered 503 ServiceUnavailable: Service is unavailable.', attempts: 3 })]);
    expect(refused).toBe(3);
    expect(await onBus(type)).toEqual([]);

    await admin('PUT', '/admin/config', { fault: null });
    const res = await SELF.fetch(`${BASE}/v1/operator/dlq/redrive`, {
      method: 'POST',
      headers: { authorization: `Bearer ${(env as { OPERATOR_TOKEN?: string }).OPERATOR_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: letters.map((l) => l.id) }),
    });
    expect(res.status).toBe(200);
    await waitFor(async () => (await onBus(type)).length > 0);
    await pause(2_500);
    const entries = await onBus(type);
    console.warn(
      `bus outage: ${refused} PutEvents refused, dead-lettered after ${Math.round(deadAfter / 100) / 10} s; after redrive ${entries.length} entry on the bus, ${(await lettersOf(event.id)).length} letters left`,
    );
    expect(entries.map((e) => e.detail.webhook_id)).toEqual([event.id]);
    expect(await lettersOf(event.id)).toEqual([]);
  });
});

describe('the forward action and unmatched types', () => {
  it("forwards to the action's URL", async () => {
    const event = newEvent('relay.ping', { n: 1 });
    expect((await sendStandard(JSON.stringify(event), { msgId: event.id, source: 'jobs' })).status).toBe(202);
    await waitFor(async () => (await forwardedIds('/events/relay')).includes(event.id));
    await pause(1_500);
    expect((await forwardedIds('/events/relay')).filter((id) => id === event.id)).toHaveLength(1);
  });

  it('dead-letters an event no pattern matches, naming its type, and answers it without a job_id', async () => {
    const event = newEvent('unmapped.kind');
    const res = await sendStandard(JSON.stringify(event), { msgId: event.id, source: 'jobs' });
    expect(res.status).toBe(202);
    expect(await res.json()).not.toHaveProperty('job_id');
    await waitFor(async () => (await lettersOf(event.id)).length > 0);
    expect(await lettersOf(event.id)).toEqual([expect.objectContaining({ reason: "source 'jobs' has no action for event type 'unmapped.kind'" })]);
  });
});
