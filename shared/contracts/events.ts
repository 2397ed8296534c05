/**
 * What the edge puts on an environment's EventBridge bus and what CDK declares for it: the bus's
 * name, the `source` of a verified webhook event (a prefix AWS-side rules and the archive match on,
 * then the webhook source's name) and the `detail` shape. `detail-type` is the event's own type.
 * Delivery is at least once: consumers deduplicate on `detail.webhook_id`.
 */

/** The bus of an environment: `inference-gateway-<env>-events` (CDK's physical name, the edge's default). */
export function eventBusName(environment: string): string {
  return `inference-gateway-${environment}-events`;
}

/** Every gateway event's `source` starts with this; `aws.` is reserved by AWS. */
export const WEBHOOK_EVENT_SOURCE_PREFIX = 'inference-gateway.webhook.';

/** The `source` of the events of one webhook source, e.g. `inference-gateway.webhook.stripe`. */
export function webhookEventSource(source: string): string {
  return `${WEBHOOK_EVENT_SOURCE_PREFIX}${source}`;
}

/** The `detail` of a webhook event on the bus (snake_case, as the public API's JSON). */
export interface WebhookEventDetail {
  /** The dedupe id the edge accepted the delivery under (webhook-id, Idempotency-Key or the body's id). */
  readonly webhook_id: string;
  /** The webhook source's name. */
  readonly source: string;
  /** The body the sender signed: `{id, type, payload}`. */
  readonly event: { readonly id: string; readonly type: string; readonly payload: unknown };
  /** When the edge accepted it, epoch seconds. */
  readonly received_at: number;
  /** The ingest request's id, for correlating with the edge's logs. */
  readonly request_id: string;
}
