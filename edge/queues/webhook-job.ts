/**
 * The `job` action: a verified webhook event becomes one async job for its source's tenant. The
 * job's id derives from the source and the delivery id (job-store.ts `webhookJobId`), which is how
 * the ingest answer carries `job_id` before this runs, and how every copy and replay of the event
 * finds the same job: once submitted, nothing submits it again (a claim per job id guards copies
 * that run at the same time).
 *
 * One attempt: read the tenant (its plan, limits and callback URL), render the template
 * (template.ts), then submit the job as `POST /v1/jobs` does (job-submit.ts: plan checks, limits,
 * token reservation, SSRF-checked callback). Then:
 * - a template that does not render, a request the plan or route table refuses, a bad callback, a
 *   suspended tenant: the job is failed with that reason (readable by id, delivered to the callback)
 *   and the event dead-lettered;
 * - the tenant's limits: the job waits (`queued`, with `pendingAdmission`) for Retry-After and tries
 *   again as a fresh message, so waiting costs no attempts, until `JOB_DEADLINE_SECONDS` after it
 *   was created; a wait that would pass the deadline fails it with RATE_LIMITED and dead-letters it;
 * - the queue or the store unavailable: retried like any work (the store on its outage schedule).
 * A redrive (the first attempt at an event whose job failed before submission) starts over with a
 * fresh deadline; a later attempt at it is the dead message redelivered, and stays dead.
 */
import * as z from 'zod';
import { storeKeys, TenantRecordSchema, type TenantRecord } from '../../shared/contracts/tenancy';
import type { ErrorCode } from '../../shared/errors';
import { effectivePlan } from '../../shared/plans';
import type { Bindings, Config } from '../env';
import { ApiError } from '../errors';
import type { AuthContext } from '../middleware/auth';
import { pendingWork } from '../services/background';
import { Claims } from '../services/claim';
import { DeadlineExceededError } from '../services/deadline';
import type { QuotaGate } from '../services/limits/gate';
import type { MetricsRecorder } from '../services/metrics';
import type { Store } from '../services/store';
import { finishJob } from './job-consumer';
import { ulid } from '../../shared/ulid';
import { loadJob, saveJob, webhookJobId, type JobInference, type JobRecord } from './job-store';
import { submitJob } from './job-submit';
import { type DeliveryMessage, messageTrace, type WebhookMessage } from './messages';
import { StoreUnavailableError, type Outcome } from './outcome';
import type { AsyncSettings, WebhookSource } from './settings';
import { renderJobTemplate, type JobTemplate } from './template';

/** What the job action uses. */
export interface WebhookJobDeps {
  readonly env: Bindings;
  readonly config: Config;
  readonly settings: AsyncSettings;
  /** The consumers' store: its failures are StoreUnavailableError. */
  readonly store: Store;
  readonly quotaGate: QuotaGate;
  readonly metrics: MetricsRecorder;
  readonly now: () => number;
  /** Puts the delivery of a job that failed here on the delivery queue. */
  readonly deliver: (message: DeliveryMessage) => Promise<void>;
}

/** Failures of a submission that no retry can fix: the request, the plan, the callback URL. */
const PERMANENT: ReadonlySet<ErrorCode> = new Set(['INVALID_INPUT', 'FORBIDDEN', 'NOT_FOUND']);

/** How long a submission in progress holds its job id if its consumer dies (the submission takes far less). */
const SUBMIT_IN_PROGRESS_TTL_S = 60;

const SubmittedSchema = z.object({ jobId: z.string() });

/**
 * A store failure as the consumers know it: the claim and the submission bound their store calls
 * with `storeCall`, whose 503 carries the store's own error (or its deadline) as the cause.
 */
function storeFailureOf(err: unknown): StoreUnavailableError | undefined {
  if (err instanceof StoreUnavailableError) return err;
  if (err instanceof ApiError && err.code === 'UPSTREAM_ERROR' && (err.cause instanceof StoreUnavailableError || err.cause instanceof DeadlineExceededError))
    return err.cause instanceof StoreUnavailableError ? err.cause : new StoreUnavailableError(err.cause.message, { cause: err.cause });
  return undefined;
}

async function loadTenant(store: Store, tenantId: string): Promise<TenantRecord | undefined> {
  const raw = await store.get<unknown>(storeKeys.tenant(tenantId));
  return raw === null ? undefined : TenantRecordSchema.safeParse(raw).data;
}

/** Runs the `job` action of one event on its attempt `attempt`. */
export async function runJobAction(
  message: WebhookMessage,
  source: WebhookSource,
  template: JobTemplate,
  attempt: number,
  deps: WebhookJobDeps,
): Promise<Outcome> {
  const { store, settings } = deps;
  const tenantId = source.tenant;
  if (tenantId === undefined) return { kind: 'dead', reason: `source '${source.name}' has no tenant for its job action` };
  const id = await webhookJobId(source.name, message.deliveryId);
  const existing = await loadJob(store, id);
  if (existing && existing.tenantId !== tenantId)
    return { kind: 'dead', reason: `job ${id} belongs to tenant ${existing.tenantId}, not to the source's tenant ${tenantId}` };
  // Submitted once: whatever became of the job since is the job consumer's.
  if (existing && !existing.pendingAdmission) return { kind: 'done' };
  const redrive = existing?.status === 'failed' && attempt === 1;
  if (existing?.status === 'failed' && !redrive)
    return { kind: 'dead', reason: `${existing.error?.code ?? 'INTERNAL_ERROR'}: ${existing.error?.message ?? 'failed'}` };

  const now = deps.now();
  const deadlineAt = existing && !redrive && existing.pendingAdmission ? existing.pendingAdmission.deadlineAt : now + settings.jobDeadlineSeconds * 1000;
  const createdAt = existing?.createdAt ?? now;
  const tenant = await loadTenant(store, tenantId);
  if (!tenant) return { kind: 'dead', reason: `tenant ${tenantId} of source '${source.name}' does not exist` };
  const plan = effectivePlan(tenant.plan, tenant.overrides);
  const auth: AuthContext = { tenantId, keyId: `webhook:${source.name}`, plan, scopes: ['jobs'] };
  const callbackUrl = template.callbackUrl ?? tenant.callbackUrl;
  const base: JobRecord = {
    id,
    tenantId,
    auth: { keyId: auth.keyId, plan: { ...plan, allowedModels: plan.allowedModels ? [...plan.allowedModels] : undefined }, scopes: ['jobs'] },
    priority: plan.priority,
    model: template.model,
    ...(callbackUrl !== undefined ? { callbackUrl } : {}),
    trigger: { source: source.name, deliveryId: message.deliveryId, eventId: message.event.id, eventType: message.event.type },
    pendingAdmission: { deadlineAt },
    status: 'queued',
    attempts: attempt,
    createdAt,
    updatedAt: now,
  };
  const fail = async (job: JobRecord, code: ErrorCode, reason: string): Promise<Outcome> => {
    await finishJob({ ...job, status: 'failed', error: { code, message: reason }, updatedAt: deps.now() }, deps);
    return { kind: 'dead', reason: `${code}: ${reason}` };
  };
  if (tenant.status !== 'active') return fail(base, 'FORBIDDEN', `tenant ${tenantId} is suspended`);

  const rendered = renderJobTemplate(template, message.event);
  if (!rendered.ok) return fail(base, 'INVALID_INPUT', rendered.reason);
  const request: JobInference =
    'prompt' in rendered.job.request ? { ...rendered.job.request } : { ...rendered.job.request, messages: [...rendered.job.request.messages] };
  const pending: JobRecord = { ...base, request };

  const claims = new Claims({
    value: SubmittedSchema,
    completedTtlS: settings.jobResultTtlSeconds,
    inProgressTtlS: SUBMIT_IN_PROGRESS_TTL_S,
    waitMs: 0,
    now: deps.now,
  });
  const later = pendingWork();
  const storeTimeoutMs = deps.config.limits.storeTimeoutMs;
  try {
    const claim = await claims.claim({
      store,
      key: `gw:wh:job:${id}`,
      fingerprint: id,
      label: `job ${id}`,
      storeTimeoutMs,
      background: later.background,
    });
    if (claim.kind === 'replay') return { kind: 'done' };
    try {
      await submitJob(
        {
          id,
          auth,
          priority: plan.priority,
          request,
          callbackUrl,
          tenantDefaultCallback: false,
          requestId: message.requestId,
          trace: messageTrace(message),
          trigger: base.trigger,
          createdAt,
          // A triggered job is a request of its tenant too: recorded by the job consumer when it ends.
          usage: { recordId: ulid(createdAt), requestId: message.requestId, startedAt: createdAt },
        },
        { ...deps, background: later.background, storeCall: (work) => work },
      );
    } catch (err) {
      await claim.holder.release().catch(() => {});
      throw err;
    }
    await claim.holder.complete({ jobId: id });
    return { kind: 'done' };
  } catch (err) {
    const storeFailure = storeFailureOf(err);
    if (storeFailure) throw storeFailure;
    if (!(err instanceof ApiError)) throw err;
    // A budget refusal waits like a rate limit: to the month's end, so past any job deadline (it fails).
    if (err.code === 'RATE_LIMITED' || err.code === 'BUDGET_EXCEEDED') {
      const retryAfter = Math.max(1, Number(err.headers['Retry-After']) || 1);
      const retryAt = deps.now() + retryAfter * 1000;
      if (retryAt > deadlineAt) {
        const reason = `the tenant's limits admit the job only in ${retryAfter} s, past its deadline of ${settings.jobDeadlineSeconds} s (${err.message})`;
        return fail(pending, err.code, reason);
      }
      await saveJob(store, { ...pending, pendingAdmission: { deadlineAt, retryAt }, updatedAt: deps.now() }, settings.jobResultTtlSeconds);
      return { kind: 'wait', delaySeconds: retryAfter, reason: `${err.code}: ${err.message}` };
    }
    if (PERMANENT.has(err.code)) return fail(pending, err.code, err.message);
    // The claim still in progress elsewhere (a concurrent copy), the queue unavailable: try again.
    return { kind: 'retry', cause: 'backend', attempt, reason: `${err.code}: ${err.message}` };
  } finally {
    await later.settled();
  }
}
