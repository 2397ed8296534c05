/**
 * What becomes of a verified webhook event: the action its source maps its type to (actions.ts).
 * - `forward`: a SigV4-signed POST (service `lambda`, the edge's AWS identity, as the adapters are
 *   called) to the action's `url` or the source's `forwardUrl`, a Lambda Function URL in the cloud.
 *   The body is a {@link WebhookForward} (shared/contracts/webhook-forward.ts) with
 *   `Idempotency-Key: <delivery id>`, so the backend can dedupe a redelivery too. 2xx is done;
 *   408/425/429/5xx and network failures are retried; other 4xx are dead letters at once.
 * - `eventbridge`: one PutEvents entry on the action's bus or the environment's
 *   (services/eventbridge.ts); an outage or throttling is retried, a refused entry is a dead letter.
 * - `job`: an async job for the source's tenant (webhook-job.ts).
 * An event no pattern matches is a dead letter: the operator sees it, and can redrive it once the
 * source's actions cover its type. Every action's retries, backoff, dead letters and redrive are the
 * consumer's (consumer.ts).
 */
import { REQUEST_ID_HEADER } from '../../shared/contracts/boundary';
import { IDEMPOTENCY_KEY_HEADER, type WebhookForward } from '../../shared/contracts/webhook-forward';
import { lambdaSigner } from '../services/backend-client';
import { putEvents, webhookBusEntry } from '../services/eventbridge';
import { matchAction, type SourceAction } from './actions';
import type { WebhookMessage } from './messages';
import type { Outcome } from './outcome';
import { runJobAction, type WebhookJobDeps } from './webhook-job';

/** What the webhook consumer uses: the job action's needs, and the transport of the bus calls. */
export interface WebhookDeps extends WebhookJobDeps {
  /** The fetch of PutEvents calls (the Worker's global fetch). */
  readonly fetch: typeof fetch;
}

const RETRYABLE = new Set([408, 425, 429]);

/** Runs the action of one event on its attempt `attempt`; the outcome says whether to ack, retry or dead-letter it. */
export async function runWebhookAction(message: WebhookMessage, attempt: number, deps: WebhookDeps): Promise<Outcome> {
  const source = deps.settings.sources.get(message.source);
  if (!source) return { kind: 'dead', reason: `source '${message.source}' is not configured` };
  const matched = matchAction(source.actions, message.event.type);
  if (!matched) return { kind: 'dead', reason: `source '${source.name}' has no action for event type '${message.event.type.slice(0, 128)}'` };
  const action: SourceAction = matched.action;
  if (action.action === 'job') return runJobAction(message, source, action.template, attempt, deps);
  if (action.action === 'eventbridge') return putOnBus(message, action.bus, attempt, deps);
  const url = action.url ?? source.forwardUrl;
  // The settings refuse a forward with neither; kept as a dead letter should they change under a message.
  if (!url) return { kind: 'dead', reason: `source '${source.name}' has no forwardUrl` };
  return forward(message, url, attempt, deps);
}

async function putOnBus(message: WebhookMessage, bus: string | undefined, attempt: number, deps: WebhookDeps): Promise<Outcome> {
  const { config, settings } = deps;
  const outcome = await putEvents(
    {
      endpoint: settings.eventBridge.endpoint,
      region: config.aws.region,
      credentials: config.aws,
      busName: settings.eventBridge.busName,
      timeoutMs: config.backendTimeoutMs,
    },
    [webhookBusEntry(message, bus)],
    { fetch: deps.fetch },
  );
  if (outcome.ok) return { kind: 'done' };
  if (outcome.retryable) return { kind: 'retry', cause: 'backend', attempt, reason: outcome.reason };
  return { kind: 'dead', reason: outcome.reason };
}

async function forward(message: WebhookMessage, url: string, attempt: number, deps: WebhookDeps): Promise<Outcome> {
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
    response = await lambdaSigner(deps.config.aws).fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [IDEMPOTENCY_KEY_HEADER]: message.deliveryId, [REQUEST_ID_HEADER]: message.requestId },
      body,
      signal: AbortSignal.timeout(deps.config.backendTimeoutMs),
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
