/**
 * Forwards a verified webhook event to its source's backend: a SigV4-signed POST (service `lambda`,
 * the edge's AWS identity, as the adapters are called) to the source's `forwardUrl`, a Lambda
 * Function URL in the cloud. The body is a {@link WebhookForward} (shared/contracts/webhook-forward.ts)
 * with `Idempotency-Key: <delivery id>`, so the backend can dedupe a redelivery too. 2xx is done;
 * 408/425/429/5xx and network failures are retried; other 4xx are dead letters at once.
 */
import { REQUEST_ID_HEADER } from '../../shared/contracts/boundary';
import { IDEMPOTENCY_KEY_HEADER, type WebhookForward } from '../../shared/contracts/webhook-forward';
import { signerFor } from '../services/backend-client';
import type { Config } from '../env';
import type { WebhookMessage } from './messages';
import type { Outcome } from './outcome';
import type { AsyncSettings } from './settings';

const RETRYABLE = new Set([408, 425, 429]);

/** Forwards one event on its attempt `attempt`; the outcome says whether to ack, retry or dead-letter it. */
export async function forwardWebhook(message: WebhookMessage, attempt: number, config: Config, settings: AsyncSettings): Promise<Outcome> {
  const source = settings.sources.get(message.source);
  if (!source?.forwardUrl) return { kind: 'dead', reason: `source '${message.source}' has no forwardUrl` };
  const body = JSON.stringify({
    source: message.source,
    delivery_id: message.deliveryId,
    id: message.event.id,
    type: message.event.type,
    payload: message.event.payload,
    received_at: Math.floor(message.receivedAt / 1000),
  } satisfies WebhookForward);
  let response: Response;
  try {
    response = await signerFor(config.aws).fetch(source.forwardUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [IDEMPOTENCY_KEY_HEADER]: message.deliveryId, [REQUEST_ID_HEADER]: message.requestId },
      body,
      signal: AbortSignal.timeout(config.backendTimeoutMs),
    });
  } catch (err) {
    return { kind: 'retry', cause: 'backend', attempt, reason: `forward target unreachable: ${err instanceof Error ? err.message.slice(0, 200) : 'error'}` };
  }
  await response.body?.cancel().catch(() => {});
  if (response.ok) return { kind: 'done' };
  if (response.status >= 500 || RETRYABLE.has(response.status))
    return { kind: 'retry', cause: 'backend', attempt, reason: `forward target answered ${response.status}` };
  return { kind: 'dead', reason: `forward target refused the event (${response.status})` };
}
