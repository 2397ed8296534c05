/**
 * Submitting an async job, the one way every job enters the system (`POST /v1/jobs`, and a webhook
 * event whose action is `job`): the same model, plan and max_tokens checks as a sync request, the
 * tenant's rate limits (the request counts now, the tokens are reserved: prompt estimate +
 * max_tokens) and its monthly spend budget (the job's maximum cost is reserved, in the same round
 * trip; the job consumer settles it to what the job's record bills), the callback URL through the
 * SSRF guard, then the job record and its message on the priority tier's queue. A job is submitted
 * only once both are stored; when either fails, the record is removed and the reservations refunded
 * in the background, and the error goes to the caller.
 *
 * Errors are the ApiErrors a client would get: 404/403/400 for a request the plan or route table
 * refuses, 429 RATE_LIMITED with Retry-After, 429 BUDGET_EXCEEDED with Retry-After to the month's end, 503 when the queue or (per the caller's `storeCall`)
 * the store is unavailable. The route answers them; the webhook consumer waits out a 429 and
 * dead-letters the permanent ones.
 */
import { storeKeys, TenantRecordSchema } from '../../shared/contracts/tenancy';
import type { TraceContext } from '../../shared/contracts/trace';
import type { Priority } from '../../shared/plans';
import type { Bindings, Config } from '../env';
import { ApiError } from '../errors';
import type { AuthContext } from '../middleware/auth';
import { admitBudget, admittedWithBudget, maxCostMicros } from '../services/limits/budget';
import type { QuotaGate } from '../services/limits/gate';
import { tokensToReserve } from '../services/limits/gate';
import type { MetricsRecorder } from '../services/metrics';
import type { Store } from '../services/store';
import { planCall } from '../services/upstream';
import { deleteJob, normalizedJobRequest, saveJob, type JobInference, type JobRecord } from './job-store';
import { traceFields } from './messages';
import { enqueue } from './producer';
import type { AsyncSettings } from './settings';
import { callbackUrlProblem } from './ssrf';

/** What to submit. */
export interface JobSubmission {
  readonly id: string;
  /** Who submits: the tenant, its plan (limits, models, max_tokens) and the key (or webhook source) it came through. */
  readonly auth: AuthContext;
  readonly priority: Priority;
  readonly request: JobInference;
  /** Where the result goes; undefined: nowhere, unless {@link tenantDefaultCallback}. */
  readonly callbackUrl: string | undefined;
  /** Without a callback URL, deliver to the tenant's configured one (read in the limiters' round trip). */
  readonly tenantDefaultCallback: boolean;
  /** Correlates logs: the submitting request's id, or the webhook's. */
  readonly requestId: string;
  /** The webhook event behind a triggered job. */
  readonly trigger?: JobRecord['trigger'];
  /** When the job came to be, if before now (a triggered job that waited for its limits). */
  readonly createdAt?: number;
  /** The submitting request's usage record, which the job's end writes. */
  readonly usage?: JobRecord['usage'];
  /** The trace the job's upstream call continues (on its queue message). */
  readonly trace?: TraceContext | undefined;
}

/** What submission uses. */
export interface SubmitDeps {
  /** The Worker bindings: the job queues. */
  readonly env: Bindings;
  readonly store: Store;
  readonly config: Config;
  readonly settings: AsyncSettings;
  readonly quotaGate: QuotaGate;
  readonly metrics: MetricsRecorder;
  readonly now: () => number;
  /** Where undoing work goes (`waitUntil`, or the consumer's pending work). */
  readonly background: (work: Promise<unknown>) => void;
  /**
   * How one store call is bounded and what its failure becomes: 503 with Retry-After on a request
   * path (services/store.ts `storeCall`); the consumers' store already bounds and types its calls.
   */
  readonly storeCall: <T>(work: Promise<T>, what: string) => Promise<T>;
}

/** A submitted job and the rate-limit and budget headers of its admission. */
export interface SubmittedJob {
  readonly job: JobRecord;
  readonly headers: Record<string, string>;
}

const WHAT = 'the job store';

/** Checks, admits, stores and queues one job; throws the ApiError the submitter should see. */
export async function submitJob(submission: JobSubmission, deps: SubmitDeps): Promise<SubmittedJob> {
  const { auth, request } = submission;
  const { store, config } = deps;
  const call = planCall({ config, auth, requestId: submission.requestId }, normalizedJobRequest(request));
  const gate = deps.quotaGate.admit({
    store,
    plan: auth.plan,
    tenantId: auth.tenantId,
    tokens: tokensToReserve(call.payload, config.images.reserveTokens),
    policy: config.limits,
    background: deps.background,
    metrics: deps.metrics,
  });
  const budget = admitBudget({
    store,
    tenantId: auth.tenantId,
    limitMicros: auth.plan.monthlyBudgetMicros,
    reserveMicros: maxCostMicros(config.routes, call.payload, auth.plan.maxTokens, config.images.reserveTokens),
    now: deps.now(),
    policy: config.limits,
  });
  const admitting = admittedWithBudget(gate, budget, deps.background);
  // The tenant's default callback, read in the same tick as the limiters' EVALSHAs: GETEX (unlike
  // GET, not a read-only command for the auto-pipeline) rides in their HTTP request, its deadline
  // running alongside theirs: one round trip and one store timeout for both.
  const tenantRead =
    submission.callbackUrl === undefined && submission.tenantDefaultCallback
      ? deps.storeCall(store.getex<unknown>(storeKeys.tenant(auth.tenantId)), WHAT)
      : undefined;
  // Awaited only after the admission: a denial must not leave it rejecting unobserved.
  tenantRead?.catch(() => {});
  const { admitted: admission, spend } = await admitting;
  const refund = () => {
    deps.background(admission.settle(0));
    if (spend) deps.background(spend.settle(0));
  };
  let callbackUrl = submission.callbackUrl;
  try {
    if (tenantRead) {
      const raw = await tenantRead;
      callbackUrl = raw === null ? undefined : TenantRecordSchema.safeParse(raw).data?.callbackUrl;
    }
    if (callbackUrl !== undefined) {
      const problem = callbackUrlProblem(callbackUrl, deps.settings.allowLoopbackCallbacks);
      if (problem) throw new ApiError('INVALID_INPUT', `callback_url ${problem}`, { details: { issues: [{ path: 'callback_url', message: problem }] } });
    }
  } catch (err) {
    refund();
    throw err;
  }
  const now = deps.now();
  const job: JobRecord = {
    id: submission.id,
    tenantId: auth.tenantId,
    auth: {
      keyId: auth.keyId,
      plan: { ...auth.plan, allowedModels: auth.plan.allowedModels ? [...auth.plan.allowedModels] : undefined },
      scopes: [...auth.scopes],
    },
    priority: submission.priority,
    request,
    reservation: {
      reserved: admission.reservation.reserved,
      windows: admission.reservation.windows.map((w) => ({ window: { ...w.window }, reset: w.reset })),
    },
    ...(spend ? { budget: spend.reservation } : {}),
    ...(callbackUrl !== undefined ? { callbackUrl } : {}),
    ...(submission.trigger ? { trigger: submission.trigger } : {}),
    ...(submission.usage ? { usage: submission.usage } : {}),
    status: 'queued',
    attempts: 0,
    createdAt: submission.createdAt ?? now,
    updatedAt: now,
  };
  const undo = () => {
    // A write that timed out may still land: remove it, so no record waits for a job never queued.
    deps.background(deleteJob(store, job.id));
    refund();
  };
  try {
    await deps.storeCall(saveJob(store, job, deps.settings.jobResultTtlSeconds), WHAT);
    const message = { kind: 'job' as const, jobId: job.id, tenantId: job.tenantId, priority: submission.priority, ...traceFields(submission.trace) };
    await enqueue(deps.env, message, { requestId: submission.requestId });
  } catch (err) {
    undo();
    throw err;
  }
  return { job, headers: { ...admission.headers, ...spend?.headers } };
}
