/**
 * Async jobs: `POST /v1/jobs` (the `/v1/infer` body plus `callback_url` and `priority`) stores the
 * job and enqueues it on its priority tier's queue before answering 202 `{id, status: "queued"}`;
 * `GET /v1/jobs/{id}` answers status and, when done, the result (also for jobs a webhook event
 * triggered). Submission is queues/job-submit.ts, shared with webhook-triggered jobs. Scope `jobs`; another tenant's job
 * is 404. The result is also delivered, signed, to the callback URL (queues/delivery-consumer.ts).
 * Both need the store: each of their store calls is bounded by the store timeout, and a store that
 * fails or exceeds it is answered 503 UPSTREAM_ERROR with Retry-After (a job is accepted only once
 * it is stored and queued).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { InferRequestSchema } from '../../shared/contracts/infer';
import { PRIORITIES } from '../../shared/plans';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { auth } from '../middleware/auth';
import { getAsyncSettings } from '../queues/settings';
import { jobView, loadJob, newJobId } from '../queues/job-store';
import { submitJob } from '../queues/job-submit';
import { idempotentHandler } from '../stages/idempotency';
import { canonicalJson } from '../services/cache/key';
import { sha256Hex } from '../../shared/crypto/hash';
import { backgroundFor } from '../services/background';
import { storeCall } from '../services/store';
import { queuedContext } from '../services/tracing';
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
    priority: z.enum(PRIORITIES).optional().describe('Absent while a job a webhook triggered waits to be built'),
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

  const once = idempotentHandler(deps.now);
  app.openapi(submit, async (c) => {
    const body = c.req.valid('json');
    const who = c.get('auth');
    const config = c.get('config');
    const priority = body.priority ?? who.plan.priority;
    if (RANK[priority] > RANK[who.plan.priority]) {
      throw new ApiError('FORBIDDEN', `priority '${priority}' is above this plan's '${who.plan.priority}'`, { details: { max_priority: who.plan.priority } });
    }
    const { callback_url: callbackUrl, priority: _priority, ...request } = body;
    // Idempotency-Key as on the inference routes: a retried submission replays the first 202.
    const fingerprint = () => sha256Hex(`${c.req.path}\n${canonicalJson(body)}`);
    return asRouteResponse(
      once(c, fingerprint, async () => {
        const facts = c.get('usage');
        const usage = facts ? { recordId: facts.recordId, requestId: c.get('requestId'), startedAt: facts.startedAt } : undefined;
        const { job, headers } = await submitJob(
          {
            id: newJobId(),
            auth: who,
            priority,
            request,
            callbackUrl,
            tenantDefaultCallback: true,
            requestId: c.get('requestId'),
            ...(usage ? { usage } : {}),
            trace: queuedContext(c.get('trace'), config),
          },
          {
            env: c.env,
            store: c.get('store'),
            config,
            settings: getAsyncSettings(c.env),
            quotaGate: deps.quotaGate,
            metrics: deps.metrics,
            now: deps.now,
            background: backgroundFor(c),
            storeCall: (work, what) => storeCall(work, config.limits.storeTimeoutMs, what),
          },
        );
        // A queued job is recorded by its consumer when it ends, with what its run spent.
        if (facts) facts.deferred = true;
        return c.json({ id: job.id, status: 'queued' as const }, 202, headers);
      }),
    );
  });

  const read = createRoute({
    method: 'get',
    path: '/v1/jobs/{id}',
    summary: "A job's status, and its result when done",
    middleware: [auth({ scope: 'jobs', directory: deps.directory, now: deps.now })],
    security: BEARER_SECURITY,
    request: { params: z.object({ id: z.string().max(80) }) },
    responses: { 200: { description: 'The job', content: { 'application/json': { schema: JobSchema } } }, ...ERROR_RESPONSES },
  });

  app.openapi(read, async (c) => {
    const { id } = c.req.valid('param');
    const config = c.get('config');
    const job = await storeCall(loadJob(c.get('store'), id), config.limits.storeTimeoutMs, 'the job store');
    // Another tenant's job is indistinguishable from a missing one.
    if (!job || job.tenantId !== c.get('auth').tenantId) throw new ApiError('NOT_FOUND', `no job '${id.slice(0, 80)}'`);
    return c.json(jobView(job), 200);
  });

  return app;
}
