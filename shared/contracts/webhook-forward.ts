/**
 * What the edge's webhook consumer POSTs to a source's forward target (a backend Function URL in
 * the cloud): one verified event with where and when it came in. A redelivery of the same event
 * carries the same `delivery_id`, also sent as {@link IDEMPOTENCY_KEY_HEADER}, so the target can
 * dedupe it; the edge's request id travels as `REQUEST_ID_HEADER` (./boundary.ts).
 */
import * as z from 'zod';

/** Header repeating the body's `delivery_id`: what a forward target dedupes a redelivery on. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/** The forward body. Unknown fields are rejected, so a new field is a deliberate contract change. */
export const WebhookForwardSchema = z
  .object({
    /** The source's name, as configured at the edge (`/v1/webhooks/:source`). */
    source: z.string().min(1),
    /** The dedupe id the edge used: `webhook-id`, the `Idempotency-Key`, or the event's own id. */
    delivery_id: z.string().min(1),
    /** The event as the sender posted it. */
    id: z.string().min(1),
    type: z.string().min(1),
    payload: z.unknown().refine((v) => v !== undefined, 'required'),
    /** When the edge accepted the event, in Unix seconds. */
    received_at: z.number().int().nonnegative(),
  })
  .strict();

/** The forward body. */
export type WebhookForward = z.infer<typeof WebhookForwardSchema>;
