/**
 * Producing to the edge's queues: the binding for each kind of message (jobs by priority tier), and
 * one `enqueue` that turns any failure to store the message into 503 + Retry-After, so a sender or
 * client never gets a 2xx for something that is not stored.
 */
import type { Priority } from '../../shared/plans';
import type { Bindings } from '../env';
import { ApiError } from '../errors';
import { describeError, log } from '../services/log';
import type { QueueMessageBody } from './messages';

type QueueBinding = Queue<QueueMessageBody>;

/** The job queue of a priority tier. */
export function jobQueue(env: Bindings, priority: Priority): QueueBinding | undefined {
  if (priority === 'vip') return env.JOBS_QUEUE_VIP;
  if (priority === 'standard') return env.JOBS_QUEUE_STANDARD;
  return env.JOBS_QUEUE_LOW;
}

/** The queue a live message belongs on. */
export function queueFor(env: Bindings, body: QueueMessageBody): QueueBinding | undefined {
  switch (body.kind) {
    case 'webhook':
      return env.WEBHOOK_QUEUE;
    case 'job':
      return jobQueue(env, body.priority);
    case 'delivery':
    case 'notice':
      return env.DELIVERY_QUEUE;
    case 'dead-letter':
      return env.DEAD_LETTER_QUEUE;
  }
}

/** Sends one message; throws UPSTREAM_ERROR 503 with Retry-After when it cannot be stored. */
export async function enqueue(env: Bindings, body: QueueMessageBody, options: { delaySeconds?: number; requestId?: string } = {}): Promise<void> {
  const queue = queueFor(env, body);
  if (!queue) throw new ApiError('UPSTREAM_ERROR', 'the queue is not available; retry later', { status: 503, headers: { 'Retry-After': '5' } });
  try {
    await queue.send(body, { contentType: 'json', ...(options.delaySeconds ? { delaySeconds: options.delaySeconds } : {}) });
  } catch (err) {
    log('warn', 'enqueue failed', { request_id: options.requestId, kind: body.kind, ...describeError(err) });
    throw new ApiError('UPSTREAM_ERROR', 'the queue is not available; retry later', { status: 503, headers: { 'Retry-After': '5' }, cause: err });
  }
}
