/**
 * `POST /webhooks/{source}` (`/webhooks/ingest` is the source named `ingest`): the signature over
 * the raw bytes first (middleware/webhook-signature.ts), then the body `{id, type, payload}`, then
 * the delivery's claim (services/claim.ts, per source and signed delivery id — `webhook-id` under
 * Standard Webhooks, the body's `id` under `t=,v1=` — fingerprinted by the body's hash, waiting up
 * to 3 s for a concurrent first delivery), then the durable enqueue; only then 202. When the event's
 * type maps to a `job` action, the answer carries `job_id`, derived from the source and the delivery
 * id, and the job's record (queued, the source's tenant's) is stored before the enqueue, so
 * `GET /v1/jobs/{job_id}` answers from the first moment.
 *
 * A duplicate gets 200 with the first answer, whatever unsigned headers it carries; the same id
 * with another body 409. Under `t=,v1=` an `Idempotency-Key` header is accepted only when it equals
 * the body's id (400 otherwise). A failed enqueue answers 503 + Retry-After and releases the id; so
 * does a store that fails or exceeds the store timeout: the sender never gets a 2xx for an event
 * that is not stored. The queue consumer runs the source's action for the event type: a job, a bus
 * event or a forward (queues/webhook-consumer.ts).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { sha256Hex } from '../../shared/crypto/hash';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { webhookSignature } from '../middleware/webhook-signature';
import { matchAction } from '../queues/actions';
import { deleteJob, saveNewJob, triggeredJob, webhookJobId } from '../queues/job-store';
import { traceFields, WebhookEventSchema } from '../queues/messages';
import { queuedContext } from '../services/tracing';
import { enqueue } from '../queues/producer';
import { getAsyncSettings } from '../queues/settings';
import { backgroundFor } from '../services/background';
import { Claims } from '../services/claim';
import { describeError, log } from '../services/log';
import { logIds } from '../middleware/trace';
import { storeCall } from '../services/store';
import type { RouteDeps } from './common';
import { validationHook } from './validation';

const AcceptedSchema = z
  .object({
    id: z.string(),
    source: z.string(),
    status: z.literal('accepted'),
    received_at: z.number().int(),
    job_id: z.string().optional().describe('The job the event becomes when its type maps to a job action: GET /v1/jobs/{job_id} with the tenant’s key'),
  })
  .meta({ id: 'WebhookAccepted' });

type Accepted = z.infer<typeof AcceptedSchema>;

/** How long a delivery id is remembered. */
const DEDUPE_TTL_S = 24 * 60 * 60;
/** A claim whose holder died is given up after this long (the enqueue takes far less). */
const IN_PROGRESS_TTL_S = 60;
/** Senders retry blindly: a concurrent duplicate waits this long for the first delivery's answer. */
const IN_FLIGHT_WAIT_MS = 3_000;

/** The Redis key of a source's delivery id. */
const deliveryKey = (source: string, deliveryId: string) => `gw:wh:seen:${source}:${deliveryId}`;

const envelope = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelopeSchema } } });

export function webhookRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  const deliveries = new Claims<Accepted>({
    value: AcceptedSchema,
    completedTtlS: DEDUPE_TTL_S,
    inProgressTtlS: IN_PROGRESS_TTL_S,
    waitMs: IN_FLIGHT_WAIT_MS,
    now: deps.now,
  });

  const ingest = createRoute({
    method: 'post',
    path: '/webhooks/{source}',
    summary: 'Signed webhook ingest (Standard Webhooks, or X-Signature t=,v1=); durably enqueued before 2xx',
    middleware: [webhookSignature({ now: deps.now })],
    request: { params: z.object({ source: z.string().max(64) }) },
    responses: {
      202: { description: 'Stored: its action (job, bus event, forward) runs from the queue', content: { 'application/json': { schema: AcceptedSchema } } },
      200: { description: 'A duplicate: the first acceptance', content: { 'application/json': { schema: AcceptedSchema } } },
      400: envelope("INVALID_INPUT: body is not {id, type, payload}, or (X-Signature scheme) an Idempotency-Key other than the body's id"),
      401: envelope('UNAUTHORIZED: missing, malformed or wrong signature, or timestamp outside the window'),
      404: envelope('NOT_FOUND: unknown source'),
      409: envelope('CONFLICT: the id was used with another body, or its first delivery is still being stored'),
      413: envelope('INVALID_INPUT: body too large'),
      415: envelope('INVALID_INPUT: Content-Type is not application/json'),
      503: envelope('UPSTREAM_ERROR: could not be stored; retry after Retry-After seconds'),
    },
  });

  app.openapi(ingest, async (c) => {
    const { source, rawBody, deliveryId: signedId, idempotencyKey } = c.get('webhook');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(rawBody));
    } catch {
      throw new ApiError('INVALID_INPUT', 'malformed JSON in request body');
    }
    const parsed = WebhookEventSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
      throw new ApiError('INVALID_INPUT', 'webhook body must be {id, type, payload}', { details: { issues } });
    }
    const event = parsed.data;
    // Dedupe on what is signed: `webhook-id`, else the signed body's id. A replay of a captured
    // request is a duplicate whatever unsigned headers it carries, and a sender that re-signs a
    // retry with a new timestamp still sends the same id.
    const deliveryId = signedId ?? event.id;
    const config = c.get('config');
    const store = c.get('store');
    const claim = await deliveries.claim({
      store,
      key: deliveryKey(source.name, deliveryId),
      fingerprint: await sha256Hex(rawBody),
      label: `delivery id '${deliveryId}'`,
      details: { delivery_id: deliveryId },
      storeTimeoutMs: config.limits.storeTimeoutMs,
      background: backgroundFor(c),
    });
    if (claim.kind === 'replay') return c.json(claim.value, 200);
    if (signedId === undefined && idempotencyKey !== undefined && idempotencyKey !== event.id) {
      await claim.holder.release().catch(() => {});
      throw new ApiError('INVALID_INPUT', "Idempotency-Key must equal the signed body's id (it is not signed; the body's id is the delivery id)", {
        details: { issues: [{ path: 'Idempotency-Key', message: `must equal the body's id '${event.id.slice(0, 64)}'` }] },
      });
    }

    const receivedAt = deps.now();
    const matched = matchAction(source.actions, event.type);
    const template = matched?.action.action === 'job' ? matched.action.template : undefined;
    const jobId = template && source.tenant ? await webhookJobId(source.name, deliveryId) : undefined;
    const accepted: Accepted = {
      id: event.id,
      source: source.name,
      status: 'accepted',
      received_at: Math.floor(receivedAt / 1000),
      ...(jobId ? { job_id: jobId } : {}),
    };
    const settings = getAsyncSettings(c.env);
    let placed = false;
    try {
      if (jobId && template && source.tenant) {
        // Readable by id (queued) from this answer on; never over a record the id already has.
        const job = triggeredJob({
          id: jobId,
          tenantId: source.tenant,
          model: template.model,
          trigger: { source: source.name, deliveryId, eventId: event.id, eventType: event.type },
          receivedAt,
          deadlineSeconds: settings.jobDeadlineSeconds,
        });
        placed = await storeCall(saveNewJob(store, job, settings.jobResultTtlSeconds), config.limits.storeTimeoutMs, 'the job store');
      }
      await enqueue(
        c.env,
        {
          kind: 'webhook',
          source: source.name,
          deliveryId,
          event,
          receivedAt,
          requestId: c.get('requestId'),
          ...traceFields(queuedContext(c.get('trace'), c.get('config'))),
        },
        { requestId: c.get('requestId') },
      );
    } catch (err) {
      if (placed && jobId) backgroundFor(c)(deleteJob(store, jobId));
      await claim.holder.release().catch(() => {});
      throw err;
    }
    // The event is stored (queued), so it is accepted even if its answer cannot be remembered; a
    // duplicate then waits out the in-progress record and is enqueued again, which the consumer's
    // `Idempotency-Key` forward lets the backend dedupe (and a job action finds its job by id).
    await claim.holder
      .complete(accepted)
      .catch((err: unknown) =>
        log('warn', 'webhook accepted but its dedupe record was not stored', { ...logIds(c), source: source.name, ...describeError(err) }),
      );
    return c.json(accepted, 202);
  });

  return app;
}
