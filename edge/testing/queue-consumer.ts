/**
 * Test support for the queue consumers inside workerd: job records written straight into the store
 * (as `POST /v1/jobs` writes them, without putting the job on a queue), one attempt of the real
 * `queue()` handler on a hand-made batch with the ack/retry result workerd records for it, the dead
 * letters recorded for a job, and the fault knobs of the stack's own bridge (the one the queues'
 * consumer in miniflare uses; edge/testing/store-faults.ts turns the outage bridge's).
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { inject } from 'vitest';
import { effectivePlan } from '../../shared/plans';
import { storeKeys, type TenantRecord } from '../../shared/contracts/tenancy';
import { generateWebhookSecret } from '../../shared/crypto/hmac';
import type { Bindings } from '../env';
import { createQueueHandler, type QueueHandlerDeps } from '../queues/consumer';
import { DLQ_KEY } from '../queues/dead-letters';
import { jobKey, newJobId, type JobRecord } from '../queues/job-store';
import type { JobMessage } from '../queues/messages';
import { isolateServices } from '../services/isolate';
import { IsolateMetrics } from '../services/metrics';
import { seedTenantKey, store } from './seed';
import type { StoreFaults } from './store-faults';

const model = inject('model');

/** A tenant with a webhook secret and a job of it in the store, `queued` unless `job` says otherwise. */
export async function seedJob(options: { callbackUrl?: string; job?: Partial<JobRecord> } = {}) {
  const seeded = await seedTenantKey({ scopes: ['jobs'] });
  const tenant: TenantRecord = { ...seeded.tenant, webhookSecrets: [generateWebhookSecret()] };
  await store.set(storeKeys.tenant(tenant.tenantId), tenant);
  const now = Date.now();
  const job: JobRecord = {
    id: newJobId(),
    tenantId: tenant.tenantId,
    auth: { keyId: seeded.record.keyId, plan: { ...effectivePlan('pro'), allowedModels: undefined }, scopes: ['jobs'] },
    priority: 'standard',
    request: { model, prompt: 'A queued haiku', params: { max_tokens: 3 } },
    ...(options.callbackUrl ? { callbackUrl: options.callbackUrl } : {}),
    status: 'queued',
    attempts: 0,
    createdAt: now,
    updatedAt: now,
    ...options.job,
  };
  await store.set(jobKey(job.id), JSON.stringify(job), { ex: 3_600 });
  const message: JobMessage = { kind: 'job', jobId: job.id, tenantId: job.tenantId, priority: job.priority ?? 'standard' };
  return { job, message, tenant };
}

/** The job as stored now. */
export async function storedJob(id: string): Promise<JobRecord | undefined> {
  const raw = await store.get<JobRecord | string>(jobKey(id));
  return raw === null ? undefined : typeof raw === 'string' ? (JSON.parse(raw) as JobRecord) : raw;
}

/** What one attempt came to: the messages acked, and those retried with their delays. */
export interface AttemptResult {
  readonly acked: string[];
  readonly retried: Array<{ readonly id: string; readonly delaySeconds: number | undefined }>;
  readonly retriedAll: boolean;
}

/**
 * A consumer of its own (by default its own metrics and no flush) for driving attempts by hand. An
 * attempt resolves once the handler and its `waitUntil` work are done; a handler that rejected fails it.
 */
export function consumer(deps: QueueHandlerDeps = isolateServices({ metrics: new IsolateMetrics() })) {
  const handler = createQueueHandler(deps);
  /** Delivers `body` once as message `id` on its attempt `attempts`. */
  return async (queue: string, id: string, attempts: number, body: unknown, bindings: Record<string, unknown>): Promise<AttemptResult> => {
    const batch = createMessageBatch(queue, [{ id, timestamp: new Date(), attempts, body }]);
    // The test batch keeps no retry delay: note it on the way through.
    const delays = new Map<string, number | undefined>();
    for (const message of batch.messages) {
      const retry = message.retry.bind(message);
      message.retry = (options?: QueueRetryOptions) => {
        delays.set(message.id, options?.delaySeconds);
        retry(options);
      };
    }
    const ctx = createExecutionContext();
    await handler(batch, bindings as Bindings, ctx);
    // What the pool returns (its FetcherQueueResult type is only in the experimental workers types).
    const result: { explicitAcks: string[]; retryMessages: Array<{ msgId: string }>; retryBatch: { retry: boolean } } = await getQueueResult(batch, ctx);
    return {
      acked: result.explicitAcks,
      retried: result.retryMessages.map((r) => ({ id: r.msgId, delaySeconds: delays.get(r.msgId) })),
      retriedAll: result.retryBatch.retry,
    };
  };
}

interface RecordedLetter {
  readonly id: string;
  readonly kind: string;
  readonly messageId?: string;
  readonly original?: { readonly kind: string; readonly jobId?: string };
}

/** Every dead letter recorded for `jobId` (its job message or its delivery). */
export async function deadLettersOf(jobId: string): Promise<RecordedLetter[]> {
  const all = (await store.hgetall<Record<string, RecordedLetter | string>>(DLQ_KEY)) ?? {};
  return Object.values(all)
    .map((v) => (typeof v === 'string' ? (JSON.parse(v) as RecordedLetter) : v))
    .filter((letter) => letter.original?.jobId === jobId);
}

/** Sets the knobs of the stack's bridge: every consumer miniflare runs uses it. */
export async function setStackBridgeFaults(faults: StoreFaults): Promise<void> {
  const res = await fetch(`${inject('bridgeUrl')}/admin/config`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${inject('bridgeToken')}`, 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
  if (!res.ok) throw new Error(`the stack's bridge refused ${JSON.stringify(faults)}: ${res.status} ${await res.text()}`);
}
