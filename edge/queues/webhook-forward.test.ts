/**
 * The webhook forward body as a forward target receives it, in workerd against the real local stack
 * (Redis through the bridge, Cloudflare Queues in miniflare, the local receiver as target): it
 * parses with the shared contract (shared/contracts/webhook-forward.ts, unknown fields refused),
 * its `delivery_id` is the Idempotency-Key header, and the request id is the one the sender got.
 */
import { describe, expect, it, vi } from 'vitest';
import { REQUEST_ID_HEADER } from '../../shared/contracts/boundary';
import { IDEMPOTENCY_KEY_HEADER, WebhookForwardSchema } from '../../shared/contracts/webhook-forward';
import { newEvent, receivedAt, sendStandard, sendStripe } from '../testing/webhooks';

/** The forward of event `id` to `path`, once it has arrived. */
async function forwardOf(path: string, id: string) {
  let found: { headers: Record<string, string>; body: string } | undefined;
  await vi.waitUntil(
    async () => {
      found = (await receivedAt(path)).received.find((r) => (JSON.parse(r.body) as { id?: unknown }).id === id);
      return found !== undefined;
    },
    { timeout: 20_000, interval: 100 },
  );
  return found!;
}

describe('the webhook forward body', () => {
  it.each([
    [
      'Standard Webhooks (delivery id = webhook-id)',
      'ingest',
      (body: string, id: string) => sendStandard(body, { msgId: `msg_${id}` }),
      (id: string) => `msg_${id}`,
    ],
    ['Stripe-Signature (delivery id = the event id)', 'stripe', (body: string) => sendStripe(body), (id: string) => id],
  ] as const)('follows the shared contract for a %s sender', async (_name, source, send, deliveryIdOf) => {
    const event = newEvent('order.created', { amount: 42, lines: [{ sku: 'a', qty: 2 }] });
    const before = Math.floor(Date.now() / 1000);
    const res = await send(JSON.stringify(event), event.id);
    expect(res.status).toBe(202);
    const after = Math.ceil(Date.now() / 1000);

    const forwarded = await forwardOf(`/events/${source}`, event.id);
    const body = WebhookForwardSchema.parse(JSON.parse(forwarded.body));
    expect(body).toEqual({
      source,
      delivery_id: deliveryIdOf(event.id),
      id: event.id,
      type: event.type,
      payload: event.payload,
      received_at: body.received_at,
    });
    expect(body.received_at).toBeGreaterThanOrEqual(before);
    expect(body.received_at).toBeLessThanOrEqual(after);
    expect(forwarded.headers[IDEMPOTENCY_KEY_HEADER]).toBe(body.delivery_id);
    expect(forwarded.headers[REQUEST_ID_HEADER]).toBe(res.headers.get('x-request-id'));
  });

  it('refuses a body with a field the contract does not have', () => {
    const body = { source: 's', delivery_id: 'd', id: 'i', type: 't', payload: {}, received_at: 1 };
    expect(WebhookForwardSchema.safeParse(body).success).toBe(true);
    expect(WebhookForwardSchema.safeParse({ ...body, tenant: 'x' }).success).toBe(false);
    expect(WebhookForwardSchema.safeParse({ ...body, payload: undefined }).success).toBe(false);
  });
});
