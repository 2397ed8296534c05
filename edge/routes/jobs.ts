/**
 * Async jobs: `POST /v1/jobs` (the `/v1/infer` body plus `callback_url` and `priority`) stores the
 * job and enqueues it on its priority tier's queue before answering 202 `{id, status: "queued"}`;
 * `GET /v1/jobs/{id}` answers status and, when done, the result. Scope `jobs`; another tenant's job
 * is 404. The result is also delivered, signed, to the callback URL (queues/delivery-consumer.ts).
 * Both need the store: each of their store calls is bounded by the store timeout, and a store that
 * fails or exceeds it is answered 503 UPSTREAM_ERROR with Retry-After (a job is accepted only once
 * it is stored and queued).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { InferRequestSchema } from '../../shared/contracts/infer';
import { storeKeys, TenantRecordSchema } from '../../shared/contracts/tenancy';
import { PRIORITIES } from '../../shared/plans';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { auth } from '../middleware/auth';
import { getAsyncSettings } from '../queues/settings';
import { deleteJob, jobView, loadJob, newJobId, saveJob, type JobRecord } from '../queues/job-store';
import { enqueue } from '../queues/producer';
import { callbackUrlProblem } from '../queues/ssrf';
import { planCall } from '../services/upstream';
import { claimIdempotency } from '../middleware/idempotency';
import { canonicalJson } from '../services/cache/key';
import { sha256Hex } from '../../shared/crypto/hash';
import { backgroundFor } from '../services/background';
import { storeCall } from '../services/store';
import { tokensToReserve } from '../services/limits/gate';
import { fromInfer } from '../services/translate';
import { asRouteResponse, authenticatedJson, BEARER_SECURITY, ERROR_RESPONSES, jsonRequest, type RouteDeps } from './common';
import { validationHook } from './validation';

export const JobRequestSchema = InferRequestSchema.extend({
  callback_url: z.url().max(2048).optional(),
  priority: z.enum(PRIORITIES).optional(),
})
  .strict()
  .meta({ id: 'JobRequest', description: 'A /v1/infer body plus where to deliver the result and the priority (at most the plan’s).' });

const JobAcceptedSchema = z.object({ id: z.string(), status: z.literal('queued') }).meta({ id: 'JobAccepted' });
const JobSchema = z
  .object({
    id: z.string(),
    status: z.enum(['queued', 'running', 'succeeded', 'failed']),
    model: z.string(),
    priority: z.enum(PRIORITIES),
    created_at: z.number(),
    updated_at: z.number(),
  })
  .passthrough()
  .meta({ id: 'Job' });

const RANK = { low: 0, standard: 1, vip: 2 } as const;

export function jobRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const submit = createRoute({
    method: 'post',
    path: '/v1/jobs',
    summary: 'Submit an async inference job; the result is readable by id and delivered by signed webhook',
    middleware: authenticatedJson(deps, 'jobs'),
    security: BEARER_SECURITY,
    request: jsonRequest(JobRequestSchema),
    responses: { 202: { description: 'Queued', content: { 'application/json': { schema: JobAcceptedSchema } } }, ...ERROR_RESPONSES },
  });

  app.openapi(submit, async (c) => {
    const body = c.req.valid('json');
    const who = c.get('auth');
    const config = c.get('config');
    const settings = getAsyncSettings(c.env);
    const priority = body.priority ?? who.plan.priority;
    if (RANK[priority] > RANK[who.plan.priority]) {
      throw new ApiError('FORBIDDEN', `priority '${priority}' is above this plan's '${who.plan.priority}'`, { details: { max_priority: who.plan.priority } });
    }
    const { callback_url: requestedCallback, priority: _priority, ...inferBody } = body;
    // The same model, plan and max_tokens checks as a sync request, before anything is stored.
    const call = planCall({ config, auth: who, requestId: c.get('requestId') }, fromInfer(inferBody, false));
    const store = deps.store(config);
    // Idempotency-Key as on the inference routes: a retried submission replays the first 202.
    const replay = await claimIdempotency(c, store, who.tenantId, () => sha256Hex(`${c.req.path}\n${canonicalJson(body)}`));
    if (replay) return asRouteResponse(Promise.resolve(replay));
    // Rate limits as for a sync request: the request counts now and the tokens are
    // reserved at submission (prompt estimate + max_tokens), so a 429 reaches the client, not the queue.
    const later = backgroundFor(c);
    const admitting = deps.quotaGate.admit({
      store,
      plan: who.plan,
      tenantId: who.tenantId,
      tokens: tokensToReserve(call.payload),
      policy: config.limits,
      background: later,
      metrics: deps.metrics,
    });
    // The tenant's default callback, read in the same tick as the limiters' EVALSHAs: GETEX (unlike
    // GET, not a read-only command for the auto-pipeline) rides in their HTTP request, its deadline
    // running alongside theirs: one round trip and one store timeout for both.
    const tenantRead =
      requestedCallback === undefined
        ? storeCall(store.getex<unknown>(storeKeys.tenant(who.tenantId)), config.limits.storeTimeoutMs, 'the job store')
        : undefined;
    // Awaited only after the admission: a denial must not leave it rejecting unobserved.
    tenantRead?.catch(() => {});
    const admission = await admitting;
    let callbackUrl = requestedCallback;
    if (tenantRead) {
      const raw = await tenantRead.catch((err: unknown) => {
        later(admission.settle(0));
        throw err;
      });
      callbackUrl = raw === null ? undefined : TenantRecordSchema.safeParse(raw).data?.callbackUrl;
    }
    if (callbackUrl !== undefined) {
      const problem = callbackUrlProblem(callbackUrl, settings.allowLoopbackCallbacks);
      if (problem) throw new ApiError('INVALID_INPUT', `callback_url ${problem}`, { details: { issues: [{ path: 'callback_url', message: problem }] } });
    }
    const now = deps.now();
    const job: JobRecord = {
      id: newJobId(),
      tenantId: who.tenantId,
      auth: {
        keyId: who.keyId,
        plan: { ...who.plan, allowedModels: who.plan.allowedModels ? [...who.plan.allowedModels] : undefined },
        scopes: [...who.scopes],
      },
      priority,
      request: inferBody,
      reservation: {
        reserved: admission.reservation.reserved,
        windows: admission.reservation.windows.map((w) => ({ window: { ...w.window }, reset: w.reset })),
      },
      ...(callbackUrl !== undefined ? { callbackUrl } : {}),
      status: 'queued',
      attempts: 0,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await storeCall(saveJob(store, job, settings.jobResultTtlSeconds), config.limits.storeTimeoutMs, 'the job store');
    } catch (err) {
      // A write that timed out may still land: remove it, so no record waits for a job never queued.
      later(deleteJob(store, job.id));
      later(admission.settle(0));
      throw err;
    }
    try {
      await enqueue(c.env, { kind: 'job', jobId: job.id, tenantId: job.tenantId, priority }, { requestId: c.get('requestId') });
    } catch (err) {
      later(deleteJob(store, job.id));
      later(admission.settle(0));
      throw err;
    }
    return c.json({ id: job.id, status: 'queued' as const }, 202, admission.headers);
  });

  const read = createRoute({
    method: 'get',
    path: '/v1/jobs/{id}',
    summary: "A job's status, and its result when done",
    middleware: [auth({ scope: 'jobs', store: deps.store, directory: deps.directory, now: deps.now })],
    security: BEARER_SECURITY,
    request: { params: z.object({ id: z.string().max(80) }) },
    responses: { 200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } }, ...ERROR_RESPONSES },
  });

  app.openapi(read, async (c) => {
    const { id } = c.req.valid('param');
    const config = c.get('config');
    const job = await storeCall(loadJob(deps.store(config), id), config.limits.storeTimeoutMs, 'the job store');
    // Another tenant's job is indistinguishable from a missing one.
    if (!job || job.tenantId !== c.get('auth').tenantId) throw new ApiError('NOT_FOUND', `no job '${id.slice(0, 80)}'`);
    return c.json(jobView(job), 200);
  });

  return app;
}
