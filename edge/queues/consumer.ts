/**
 * The Worker's `queue()` handler: one entry for every queue the edge consumes. Messages on a
 * dead-letter queue (`…-dlq-…`) are recorded in Redis (dead-letters.ts); every other message is
 * dispatched by its `kind` (webhook forward, job, delivery). Each outcome becomes an ack, a retry
 * with exponential backoff and jitter, or — after the last attempt — an explicit dead letter with its
 * reason (sent to the DLQ before the ack, so nothing is lost if that send fails).
 */
import { getConfig, type Bindings } from '../env';
import { type IsolateServices, isolateServices } from '../services/isolate';
import { IsolateMetrics } from '../services/metrics';
import { describeError, log } from '../services/log';
import { storeFor } from '../services/store';
import { DLQ_KEY, recordDeadLetters } from './dead-letters';
import { deliverResult } from './delivery-consumer';
import { runJob } from './job-consumer';
import { LiveMessageSchema, type LiveMessage } from './messages';
import type { Outcome } from './outcome';
import { enqueue } from './producer';
import { backoffSeconds, getAsyncSettings, MAX_ATTEMPTS, type AsyncSettings } from './settings';
import { forwardWebhook } from './webhook-consumer';

// Isolate-wide on purpose, like the app's: consumer metrics aggregate across batches.
const consumerMetrics = new IsolateMetrics();

export interface QueueHandlerDeps extends Pick<IsolateServices, 'now' | 'health' | 'quotaGate'> {
  readonly fetch?: typeof fetch;
}

/** Whether a queue name is one of the dead-letter queues (`gw-dlq-<env>`). */
export const isDeadLetterQueue = (name: string) => /(^|-)dlq(-|$)/.test(name);

function maxAttemptsFor(message: LiveMessage, settings: AsyncSettings): number {
  return message.kind === 'delivery' ? settings.deliveryMaxAttempts : MAX_ATTEMPTS;
}

/** Builds the `queue()` handler. */
export function createQueueHandler(deps: QueueHandlerDeps = isolateServices()) {
  const { now } = deps;
  return async function queue(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
    const config = getConfig(env);
    const store = storeFor(config);
    if (isDeadLetterQueue(batch.queue)) return recordDeadLetters(batch, store, now());
    const settings = getAsyncSettings(env);
    const fetcher = deps.fetch ?? ((input, init) => fetch(input, init));

    await Promise.all(
      batch.messages.map(async (message) => {
        const parsed = LiveMessageSchema.safeParse(message.body);
        if (!parsed.success) {
          // Nothing of ours writes such a body; keep it visible in the dead letters rather than drop it.
          log('error', 'malformed queue message', { queue: batch.queue, message_id: message.id });
          await store.hset(DLQ_KEY, { [message.id]: JSON.stringify({ id: message.id, kind: 'unparseable', queue: batch.queue, failedAt: now() }) });
          message.ack();
          return;
        }
        const body = parsed.data;
        const max = maxAttemptsFor(body, settings);
        let outcome: Outcome;
        try {
          if (body.kind === 'webhook') outcome = await forwardWebhook(body, config, settings);
          else if (body.kind === 'job') {
            outcome = await runJob(body, message.attempts, max, {
              config,
              settings,
              store,
              metrics: consumerMetrics,
              health: deps.health,
              quotaGate: deps.quotaGate,
              now,
              deliver: (delivery) => enqueue(env, delivery),
            });
          } else outcome = await deliverResult(body, message.attempts, max, { settings, store, now, fetch: fetcher });
        } catch (err) {
          outcome = { kind: 'retry', reason: describeError(err).error_message };
        }
        await settle(env, message, body, outcome, max, settings, now);
      }),
    );
  };
}

async function settle(env: Bindings, message: Message<unknown>, body: LiveMessage, outcome: Outcome, max: number, settings: AsyncSettings, now: () => number) {
  if (outcome.kind === 'done') {
    message.ack();
    return;
  }
  if (outcome.kind === 'retry' && message.attempts < max) {
    const delaySeconds = backoffSeconds(message.attempts, settings.retryBaseSeconds);
    log('warn', 'queue message will be retried', {
      kind: body.kind,
      message_id: message.id,
      attempt: message.attempts,
      delay_s: delaySeconds,
      reason: outcome.reason,
    });
    message.retry({ delaySeconds });
    return;
  }
  try {
    await enqueue(env, { kind: 'dead-letter', original: body, reason: outcome.reason, attempts: message.attempts, failedAt: now() });
    log('warn', 'queue message dead-lettered', { kind: body.kind, message_id: message.id, attempts: message.attempts, reason: outcome.reason });
    message.ack();
  } catch {
    // The DLQ could not take it: keep it on its queue (the platform's own DLQ catches it eventually).
    message.retry({ delaySeconds: backoffSeconds(message.attempts, settings.retryBaseSeconds) });
  }
}
