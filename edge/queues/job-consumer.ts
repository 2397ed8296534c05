/**
 * Runs one async job from its tier's queue: the same `planCall` → `complete()` path as a sync
 * `/v1/infer` (routing, retries, breakers, fallbacks) but with the tier's long job timeout, then
 * stores the result with the TTL and enqueues the signed delivery to the callback URL. A job that is
 * already finished is not run again (queues deliver at least once). Transient backend failures (429,
 * 5xx, timeouts) are retried; on the last of {@link MAX_ATTEMPTS} runs, and on permanent errors, the
 * job fails and the failure is delivered. The store being unavailable is not a run: its
 * StoreUnavailableError goes up to the consumer, which retries it on the store-outage schedule.
 */
import type { Config } from '../env';
import { ApiError } from '../errors';
import type { QuotaGate } from '../services/limits/gate';
import type { BackendHealth } from '../services/routing/health';
import { complete, planCall, type UpstreamContext } from '../services/upstream';
import type { MetricsRecorder } from '../services/metrics';
import type { Store } from '../services/store';
import { toInferResponse } from '../services/translate';
import { loadJob, normalizedJobRequest, saveJob, type JobRecord } from './job-store';
import { type DeliveryMessage, type JobMessage, messageTrace } from './messages';
import { StoreUnavailableError, type Outcome } from './outcome';
import { JOB_TIMEOUT_MS, MAX_ATTEMPTS, type AsyncSettings } from './settings';
import type { UsageRecord } from '../../shared/contracts/usage';
import { DEFAULT_STATUS } from '../../shared/errors';
import type { UsageFacts } from '../services/usage/facts';
import { settleBudget } from '../services/limits/budget';
import { factsCost, usageRecord } from '../services/usage/record';

export interface JobDeps {
  readonly config: Config;
  readonly settings: AsyncSettings;
  /** The consumers' store: its failures are StoreUnavailableError. */
  readonly store: Store;
  readonly metrics: MetricsRecorder;
  readonly health: BackendHealth;
  readonly quotaGate: QuotaGate;
  readonly now: () => number;
  /** Puts the delivery of a finished job on the delivery queue. */
  readonly deliver: (message: DeliveryMessage) => Promise<void>;
  /** Hands the usage record of a job that ended to the usage queue (never rejects). */
  readonly recordUsage?: (record: UsageRecord) => Promise<void>;
  /** Sends the tenant's budget notices (80 %, 100 %) the month's spend after a job's settlement has reached (never rejects). */
  readonly noticeBudget?: (tenantId: string, limitMicros: number, spentMicros: number) => Promise<void>;
}

// One derived config per base config: the route table with the jobs' long tier timeouts.
const jobConfigs = new WeakMap<Config, Config>();

function jobConfig(config: Config): Config {
  let derived = jobConfigs.get(config);
  if (!derived) {
    derived = { ...config, routes: { ...config.routes, timeouts: { ...JOB_TIMEOUT_MS } }, backendTimeoutMs: Math.max(...Object.values(JOB_TIMEOUT_MS)) };
    jobConfigs.set(config, derived);
  }
  return derived;
}

const RETRYABLE_CODES = new Set(['RATE_LIMITED', 'UPSTREAM_ERROR', 'TIMEOUT']);

const deliveryOf = (job: JobRecord): DeliveryMessage => ({ kind: 'delivery', deliveryId: `msg_${job.id.slice(4)}`, jobId: job.id, tenantId: job.tenantId });

/**
 * Stores a job that ended, writes the usage record of its submission (a record id made at submission,
 * so a job finished twice is counted once) and, when it has a callback, puts its signed delivery on the queue.
 */
export async function finishJob(
  job: JobRecord,
  deps: Pick<JobDeps, 'store' | 'settings' | 'deliver' | 'recordUsage' | 'config' | 'noticeBudget'>,
): Promise<void> {
  // Stored without its budget reservation, which is settled next: a redriven job never settles it twice.
  const { budget, ...ended } = job;
  const withDelivery: JobRecord = job.callbackUrl ? { ...ended, delivery: { status: 'pending', attempts: 0 } } : ended;
  await saveJob(deps.store, withDelivery, deps.settings.jobResultTtlSeconds);
  if (job.usage && job.auth && deps.recordUsage) await deps.recordUsage(jobUsageRecord(job, job.usage, job.auth.keyId, deps.config));
  // The month's spend: the submission's reservation becomes what the record bills (0 for a failure).
  if (budget) {
    const billed = job.status === 'succeeded' ? factsCost(jobFacts(job, job.usage), deps.config.routes) : 0;
    const spent = await settleBudget(deps.store, job.tenantId, budget, billed);
    const limit = job.auth?.plan.monthlyBudgetMicros;
    if (spent !== undefined && limit !== undefined) await deps.noticeBudget?.(job.tenantId, limit, spent);
  }
  if (job.callbackUrl) await deps.deliver(deliveryOf(job));
}

/** What a job that ended spent, as usage facts: its successful run's usage, or nothing. */
function jobFacts(job: JobRecord, usage: JobRecord['usage']): UsageFacts {
  const tokens = job.result?.usage;
  return {
    recordId: usage?.recordId ?? '',
    startedAt: usage?.startedAt ?? job.createdAt,
    model: job.request?.model ?? job.model ?? '',
    stream: false,
    cache: 'BYPASS',
    promptTokens: tokens?.prompt_tokens ?? 0,
    completionTokens: tokens?.completion_tokens ?? 0,
    backendPromptTokens: tokens?.prompt_tokens ?? 0,
    backendCompletionTokens: tokens?.completion_tokens ?? 0,
  };
}

/** The usage record of a job that ended: what its successful run spent, or 0 for a failure. */
function jobUsageRecord(job: JobRecord, usage: NonNullable<JobRecord['usage']>, keyId: string, config: Config): UsageRecord {
  const facts = jobFacts(job, usage);
  const status = job.status === 'succeeded' ? 200 : DEFAULT_STATUS[job.error?.code ?? 'INTERNAL_ERROR'];
  const route = job.trigger ? '/webhooks/:source' : '/v1/jobs';
  const answered = { requestId: usage.requestId, tenantId: job.tenantId, keyId, route, status, backend: '', variant: '', endedAt: job.updatedAt };
  return usageRecord(facts, { ...answered, errorCode: job.error?.code }, config.routes);
}

/** A redelivered message of a job that already ended: nothing runs again. */
async function ended(job: JobRecord, deps: JobDeps): Promise<Outcome> {
  // Its delivery may not have reached the queue (the send failed after the result was stored); the
  // receiver dedupes on the delivery's stable webhook-id if it had.
  if (job.callbackUrl && job.delivery?.status === 'pending' && job.delivery.attempts === 0) await deps.deliver(deliveryOf(job));
  if (job.status === 'failed' && job.error && RETRYABLE_CODES.has(job.error.code)) return { kind: 'dead', reason: `${job.error.code}: ${job.error.message}` };
  return { kind: 'done' };
}

/** Runs the job of `message` on the queue's attempt `attempt`. */
export async function runJob(message: JobMessage, attempt: number, deps: JobDeps): Promise<Outcome> {
  const job = await loadJob(deps.store, message.jobId);
  if (!job || job.tenantId !== message.tenantId) return { kind: 'dead', reason: `job ${message.jobId} is not in the store (expired?)` };
  // A first attempt at a failed job is a redrive from the dead letters: it gets a fresh budget.
  const redrive = job.status === 'failed' && attempt === 1;
  if (job.status === 'succeeded' || (job.status === 'failed' && !redrive)) return ended(job, deps);
  const { request, auth } = job;
  if (!request || !auth) return { kind: 'dead', reason: `job ${job.id} was never built (no request to run)` };
  const run = (redrive ? 0 : (job.runs ?? 0)) + 1;
  const started = deps.now();
  const ttl = deps.settings.jobResultTtlSeconds;
  await saveJob(deps.store, { ...job, status: 'running', attempts: attempt, runs: run, updatedAt: started }, ttl);

  const ctx: UpstreamContext = {
    config: jobConfig(deps.config),
    auth: { tenantId: job.tenantId, keyId: auth.keyId, plan: { ...auth.plan, allowedModels: auth.plan.allowedModels }, scopes: auth.scopes },
    requestId: job.id,
    trace: messageTrace(message),
    metrics: deps.metrics,
    health: deps.health,
    now: deps.now,
  };
  let result: Awaited<ReturnType<typeof complete>>['result'];
  try {
    ({ result } = await complete(ctx, planCall(ctx, normalizedJobRequest(request))));
  } catch (err) {
    if (err instanceof StoreUnavailableError) throw err;
    const code = err instanceof ApiError ? err.code : 'INTERNAL_ERROR';
    const reason = err instanceof ApiError ? err.message : 'internal error';
    const retryable = RETRYABLE_CODES.has(code) || !(err instanceof ApiError);
    if (retryable && run < MAX_ATTEMPTS) {
      await saveJob(deps.store, { ...job, status: 'queued', attempts: attempt, runs: run, updatedAt: deps.now() }, ttl);
      return { kind: 'retry', cause: 'backend', attempt: run, reason: `${code}: ${reason}` };
    }
    if (job.reservation) await deps.quotaGate.settleReservation(deps.store, job.tenantId, job.reservation, 0);
    await finishJob({ ...job, status: 'failed', attempts: attempt, runs: run, error: { code, message: reason }, updatedAt: deps.now() }, deps);
    // A job that failed for good is answered (failure delivered) and also kept as a dead letter for redrive.
    return retryable ? { kind: 'dead', reason: `${code}: ${reason}` } : { kind: 'done' };
  }
  // Token accounting as for a sync request: the submission's reservation settles to the real usage.
  if (job.reservation)
    await deps.quotaGate.settleReservation(deps.store, job.tenantId, job.reservation, result.usage.prompt_tokens + result.usage.completion_tokens);
  const response = toInferResponse({ id: job.id, model: request.model, created: Math.floor(started / 1000), latencyMs: deps.now() - started }, result);
  await finishJob({ ...job, status: 'succeeded', attempts: attempt, runs: run, result: response, updatedAt: deps.now() }, deps);
  return { kind: 'done' };
}
