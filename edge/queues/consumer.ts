/**
 * The Worker's `queue()` handler: one entry for every queue the edge consumes. The usage queue's
 * batches go to the ledger (usage-consumer.ts). Messages on a dead-letter queue (`…-dlq-…`) are recorded in Redis (dead-letters.ts); every other message is
 * dispatched by its `kind` (a webhook event's action, a job, a delivery). Each outcome becomes an
 * ack, a retry on the schedule of its cause (settings.ts), a wait (a fresh copy with the delay the
 * work asked for, then the ack: waiting spends no attempts), or an explicit dead letter with its
 * reason (sent to the DLQ before the ack, so nothing is lost if that send fails).
 *
 * Every message is settled on its own and the handler never rejects: when a queue handler throws,
 * the platform retries the whole batch, and miniflare (`wrangler dev`, the test pool) then ignores
 * the messages' own `ack()` calls, so a message already dead-lettered and acked would come back and
 * be dead-lettered again on every redelivery.
 */
import { getConfig, type Bindings, type Config } from '../env';
import { type IsolateServices, isolateServices } from '../services/isolate';
import { describeError, log } from '../services/log';
import { flushTargetFor } from '../services/metrics-flush';
import { pendingWork } from '../services/background';
import { noticeBudget } from '../services/limits/budget-notices';
import { storeFor, type Store } from '../services/store';
import { consumerStore } from './consumer-store';
import { DLQ_KEY, recordDeadLetters } from './dead-letters';
import { deliverNotice, deliverResult } from './delivery-consumer';
import { runJob } from './job-consumer';
import { LiveMessageSchema, type DeliveryMessage, type LiveMessage } from './messages';
import { StoreUnavailableError, type Outcome } from './outcome';
import { enqueue } from './producer';
import { PLATFORM_ATTEMPTS } from './platform-attempts';
import { getAsyncSettings, MAX_ATTEMPTS, retryDelaySeconds, storeOutageMaxAttempts, type AsyncSettings } from './settings';
import { sendUsageRecords } from '../services/usage/send';
import { consumeUsage, isUsageQueue } from './usage-consumer';
import { runWebhookAction } from './webhook-consumer';

/** How long a batch waits when the edge's settings are invalid (a deployment error, not the messages'). */
const MISCONFIGURED_RETRY_SECONDS = 60;

/** The isolate services the consumers use: the jobs' backend calls record into `metrics`, flushed from `waitUntil`. */
export interface QueueHandlerDeps extends Pick<IsolateServices, 'now' | 'health' | 'quotaGate' | 'metrics' | 'metricsFlusher'> {
  readonly fetch?: typeof fetch;
}

/** Whether a queue name is one of the dead-letter queues (`gw-dlq-<env>`). */
export const isDeadLetterQueue = (name: string) => /(^|-)dlq(-|$)/.test(name);

/** The longest delay a queue message can be given (Cloudflare Queues: 12 hours). */
const MAX_DELAY_SECONDS = 43_200;

/** What to do with a message after an attempt. */
export type Settlement =
  | { readonly action: 'ack' }
  | { readonly action: 'retry'; readonly delaySeconds: number }
  /** Put a fresh copy back with this delay, then ack: its attempts start again. */
  | { readonly action: 'requeue'; readonly delaySeconds: number }
  | { readonly action: 'dead'; readonly reason: string };

/** The work's own attempts for a message kind: a job's or a forward's three, a delivery's setting. */
function workAttemptsFor(kind: LiveMessage['kind'], settings: AsyncSettings): number {
  return kind === 'delivery' || kind === 'notice' ? settings.deliveryMaxAttempts : MAX_ATTEMPTS;
}

function platformAttemptsFor(kind: LiveMessage['kind']): number {
  if (kind === 'delivery' || kind === 'notice') return PLATFORM_ATTEMPTS.deliveries;
  if (kind === 'job') return PLATFORM_ATTEMPTS.jobs;
  return PLATFORM_ATTEMPTS.webhooks;
}

/**
 * Decides what becomes of a message whose attempt `platformAttempt` (the queue's count) came to
 * `outcome`. A backend failure is retried while the work has attempts left; a store failure while
 * the store-outage budget lasts; neither past the queue's own last attempt, so the platform never
 * moves a message to the DLQ behind the consumer's back.
 */
export function settlementOf(
  outcome: Outcome,
  platformAttempt: number,
  kind: LiveMessage['kind'],
  settings: AsyncSettings,
  random: () => number = Math.random,
): Settlement {
  if (outcome.kind === 'done') return { action: 'ack' };
  if (outcome.kind === 'dead') return { action: 'dead', reason: outcome.reason };
  if (outcome.kind === 'wait') return { action: 'requeue', delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(1, Math.ceil(outcome.delaySeconds))) };
  const work = workAttemptsFor(kind, settings);
  const lastOfQueue = platformAttempt >= platformAttemptsFor(kind);
  if (outcome.cause === 'backend') {
    if (outcome.attempt >= work || lastOfQueue) return { action: 'dead', reason: outcome.reason };
    return { action: 'retry', delaySeconds: retryDelaySeconds('backend', outcome.attempt, settings.retryBaseSeconds, random) };
  }
  if (platformAttempt >= storeOutageMaxAttempts(work, settings.retryBaseSeconds) || lastOfQueue)
    return { action: 'dead', reason: `the store stayed unavailable through ${platformAttempt} attempts: ${outcome.reason}` };
  return { action: 'retry', delaySeconds: retryDelaySeconds('store', platformAttempt, settings.retryBaseSeconds, random) };
}

interface BatchContext {
  readonly env: Bindings;
  readonly queue: string;
  readonly config: Config;
  readonly settings: AsyncSettings;
  readonly store: Store;
  readonly deps: QueueHandlerDeps;
  readonly fetch: typeof fetch;
}

/** Builds the `queue()` handler. */
export function createQueueHandler(deps: QueueHandlerDeps = isolateServices()) {
  const { now, metricsFlusher: flusher } = deps;
  return async function queue(batch: MessageBatch<unknown>, env: Bindings, ctx: ExecutionContext): Promise<void> {
    let config: Config;
    let settings: AsyncSettings;
    try {
      config = getConfig(env);
      settings = getAsyncSettings(env);
    } catch (err) {
      log('error', 'queue consumer cannot start: invalid settings', { queue: batch.queue, ...describeError(err) });
      batch.retryAll({ delaySeconds: MISCONFIGURED_RETRY_SECONDS });
      return;
    }
    const store = consumerStore(storeFor(config), config.limits.storeTimeoutMs);
    if (isUsageQueue(batch.queue)) await consumeUsage(batch, env, { store, now, retryBaseSeconds: settings.retryBaseSeconds });
    else if (isDeadLetterQueue(batch.queue)) await recordDeadLetters(batch, store, now(), settings.retryBaseSeconds);
    else {
      const context: BatchContext = {
        env,
        queue: batch.queue,
        config,
        settings,
        store,
        deps,
        fetch: deps.fetch ?? ((input, init) => fetch(input, init)),
      };
      await Promise.all(batch.messages.map((message) => handle(message, context)));
    }
    const target = flushTargetFor(config);
    const flight = flusher && target ? flusher.maybeFlush(target) : undefined;
    if (flight) ctx.waitUntil(flight);
  };
}

/** Runs one attempt at a message: store failures become their own outcome. */
async function attempt(body: LiveMessage, platformAttempt: number, context: BatchContext): Promise<Outcome> {
  const { config, settings, store } = context;
  const { now } = context.deps;
  try {
    const deliver = (delivery: DeliveryMessage) => enqueue(context.env, delivery);
    if (body.kind === 'webhook') {
      return await runWebhookAction(body, platformAttempt, {
        env: context.env,
        config,
        settings,
        store,
        quotaGate: context.deps.quotaGate,
        metrics: context.deps.metrics,
        now,
        deliver,
        fetch: context.fetch,
      });
    }
    if (body.kind === 'job') {
      return await runJob(body, platformAttempt, {
        config,
        settings,
        store,
        metrics: context.deps.metrics,
        health: context.deps.health,
        quotaGate: context.deps.quotaGate,
        now,
        deliver,
        recordUsage: (record) => sendUsageRecords(context.env, [record], context.deps.metrics),
        noticeBudget: async (tenantId, limitMicros, spentMicros) => {
          const later = pendingWork();
          const { currency } = config.routes;
          const timeout = config.limits.storeTimeoutMs;
          await noticeBudget({
            env: context.env,
            store,
            tenantId,
            limitMicros,
            spentMicros,
            currency,
            now: now(),
            storeTimeoutMs: timeout,
            background: later.background,
          });
          await later.settled();
        },
      });
    }
    if (body.kind === 'notice') return await deliverNotice(body, platformAttempt, { settings, store, now, fetch: context.fetch });
    return await deliverResult(body, platformAttempt, { settings, store, now, fetch: context.fetch });
  } catch (err) {
    if (err instanceof StoreUnavailableError) return { kind: 'retry', cause: 'store', reason: err.message };
    return { kind: 'retry', cause: 'backend', attempt: platformAttempt, reason: describeError(err).error_message };
  }
}

/** Handles one message to an ack, a retry or a dead letter; never rejects. */
async function handle(message: Message<unknown>, context: BatchContext): Promise<void> {
  try {
    const parsed = LiveMessageSchema.safeParse(message.body);
    if (!parsed.success) return await keepUnparseable(message, context);
    const body = parsed.data;
    const outcome = await attempt(body, message.attempts, context);
    const settlement = settlementOf(outcome, message.attempts, body.kind, context.settings);
    if (settlement.action === 'ack') message.ack();
    else if (settlement.action === 'retry') {
      log('warn', 'queue message will be retried', {
        kind: body.kind,
        message_id: message.id,
        attempt: message.attempts,
        cause: outcome.kind === 'retry' ? outcome.cause : undefined,
        delay_s: settlement.delaySeconds,
        reason: outcome.kind === 'retry' ? outcome.reason : undefined,
      });
      message.retry({ delaySeconds: settlement.delaySeconds });
    } else if (settlement.action === 'requeue') await requeue(message, body, settlement.delaySeconds, context);
    else await deadLetter(message, body, settlement.reason, context);
  } catch (err) {
    // Only a bug gets here; retry this message alone rather than fail (and redeliver) the batch.
    log('error', 'queue message handling failed', { queue: context.queue, message_id: message.id, ...describeError(err) });
    message.retry({ delaySeconds: retryDelaySeconds('backend', message.attempts, context.settings.retryBaseSeconds) });
  }
}

/** Puts a fresh copy back with the delay, then acks; a queue that cannot take it retries the message with that delay instead. */
async function requeue(message: Message<unknown>, body: LiveMessage, delaySeconds: number, context: BatchContext): Promise<void> {
  try {
    await enqueue(context.env, body, { delaySeconds });
  } catch {
    message.retry({ delaySeconds });
    return;
  }
  log('info', 'queue message waits', { kind: body.kind, message_id: message.id, attempt: message.attempts, delay_s: delaySeconds });
  message.ack();
}

/** Sends the dead letter, then acks; keeps the message when the DLQ cannot take it. */
async function deadLetter(message: Message<unknown>, body: LiveMessage, reason: string, context: BatchContext): Promise<void> {
  try {
    await enqueue(context.env, {
      kind: 'dead-letter',
      original: body,
      reason,
      attempts: message.attempts,
      failedAt: context.deps.now(),
      messageId: message.id,
      queue: context.queue,
    });
  } catch {
    // The DLQ could not take it: keep it on its queue and try again.
    message.retry({ delaySeconds: retryDelaySeconds('backend', message.attempts, context.settings.retryBaseSeconds) });
    return;
  }
  log('warn', 'queue message dead-lettered', { kind: body.kind, message_id: message.id, attempts: message.attempts, reason });
  message.ack();
}

/** Nothing of ours writes such a body; it is kept visible in the dead letters rather than dropped. */
async function keepUnparseable(message: Message<unknown>, context: BatchContext): Promise<void> {
  log('error', 'malformed queue message', { queue: context.queue, message_id: message.id });
  const record = {
    id: message.id,
    kind: 'unparseable',
    queue: context.queue,
    body: JSON.stringify(message.body ?? null).slice(0, 4096),
    failedAt: context.deps.now(),
  };
  try {
    await context.store.hset(DLQ_KEY, { [message.id]: JSON.stringify(record) });
  } catch {
    message.retry({ delaySeconds: retryDelaySeconds('store', message.attempts, context.settings.retryBaseSeconds) });
    return;
  }
  message.ack();
}
