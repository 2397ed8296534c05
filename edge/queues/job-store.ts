/**
 * Async job records in Redis (`gw:job:<id>`, JSON, expiring after the result TTL): what was asked,
 * by which tenant and plan, where the result goes, and the status and result or error. Read by
 * `GET /v1/jobs/{id}` (tenant-scoped) and written by job submission (job-submit.ts) and the
 * consumers. A job a webhook event triggered also says which event (`trigger`), and until it is
 * submitted it waits for its tenant's limits (`pendingAdmission`); its id derives from the event
 * ({@link webhookJobId}), so the webhook's answer can carry it before the job exists.
 */
import * as z from 'zod';
import { ChatMessageSchema } from '../../shared/contracts/backend';
import { GenerationParamsSchema, InferRequestSchema, InferResponseSchema, ModelNameSchema } from '../../shared/contracts/infer';
import { sha256Hex } from '../../shared/crypto/hash';
import { ERROR_CODES } from '../../shared/errors';
import { PRIORITIES, PLANS } from '../../shared/plans';
import { SCOPES } from '../../shared/contracts/tenancy';
import type { Store } from '../services/store';
import type { NormalizedRequest } from '../services/translate';

/** What a job asks: a `/v1/infer` body, or (a webhook's chat template) the same with messages instead of a prompt. */
const JobInferenceSchema = z.union([
  InferRequestSchema,
  z.object({ model: ModelNameSchema, messages: z.array(ChatMessageSchema).min(1).max(64), params: GenerationParamsSchema.optional() }).strict(),
]);

export type JobInference = z.infer<typeof JobInferenceSchema>;

/** The request in the gateway's own terms (answered in the `/v1/infer` shape). */
export function normalizedJobRequest(request: JobInference): NormalizedRequest {
  const input = 'prompt' in request ? { prompt: request.prompt } : { messages: request.messages };
  return { flavour: 'infer', model: request.model, input, params: request.params ?? {}, stream: false, includeUsage: true };
}

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;

const PlanSnapshotSchema = z.object({
  plan: z.enum(PLANS),
  requestsPerMinute: z.number(),
  requestsPerHour: z.number(),
  requestsPerDay: z.number(),
  tokensPerMinute: z.number(),
  tokensPerDay: z.number(),
  maxTokens: z.number(),
  // Jobs are text-only (one choice); snapshots stored before the field existed read as 1.
  maxN: z.number().default(1),
  priority: z.enum(PRIORITIES),
  allowedModels: z.array(z.string()).optional(),
  /** The month's spend limit at submission: what the job's budget notices compare its settled spend with. */
  monthlyBudgetMicros: z.number().optional(),
});

export const JobRecordSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  /** The submitting key's auth, so the consumer enforces the same plan; absent until a triggered job is built. */
  auth: z.object({ keyId: z.string(), plan: PlanSnapshotSchema, scopes: z.array(z.enum(SCOPES)) }).optional(),
  /** The tier it runs on; absent until a triggered job is built (the tenant's plan decides). */
  priority: z.enum(PRIORITIES).optional(),
  /** Absent only on a triggered job whose template did not render (it failed before it was built). */
  request: JobInferenceSchema.optional(),
  /** The model when there is no request (the template's). */
  model: z.string().optional(),
  callbackUrl: z.string().optional(),
  /** The webhook event that triggered the job. */
  trigger: z.object({ source: z.string(), deliveryId: z.string(), eventId: z.string(), eventType: z.string() }).optional(),
  /**
   * Present while a triggered job is not submitted yet: it waits for its tenant's limits until
   * `retryAt` (epoch ms), at most until `deadlineAt`; kept on a job that failed before submission.
   */
  pendingAdmission: z.object({ deadlineAt: z.number().int(), retryAt: z.number().int().optional() }).optional(),
  status: z.enum(JOB_STATUSES),
  /** Deliveries of the job's queue message so far (store-outage retries included). */
  attempts: z.number().int().default(0),
  /** Runs through the backend so far: what the job's attempt budget counts. */
  runs: z.number().int().optional(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  result: InferResponseSchema.optional(),
  error: z.object({ code: z.enum(ERROR_CODES), message: z.string() }).optional(),
  /** Tokens reserved at submission, settled to the real usage when the job ends. */
  reservation: z
    .object({
      reserved: z.number().int().nonnegative(),
      windows: z.array(
        z.object({
          window: z.object({ kind: z.enum(['requests', 'tokens']), name: z.enum(['minute', 'hour', 'day']), limit: z.number(), seconds: z.number() }),
          reset: z.number(),
        }),
      ),
    })
    .optional(),
  /** The month's spend reserved at submission (its maximum cost, for a tenant with a budget), settled to what its record bills when the job ends. */
  budget: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/), reservedMicros: z.number().int().nonnegative() }).optional(),
  /** The usage record its end writes: a submitted job is one request of its tenant, recorded when it ends. */
  usage: z.object({ recordId: z.string(), requestId: z.string(), startedAt: z.number().int() }).optional(),
  /** Outcome of the signed delivery to the callback URL. */
  delivery: z
    .object({ status: z.enum(['pending', 'delivered', 'gone', 'dead-lettered']), attempts: z.number().int(), lastStatus: z.number().int().optional() })
    .optional(),
});

export type JobRecord = z.infer<typeof JobRecordSchema>;

export const jobKey = (id: string) => `gw:job:${id}`;

/** The job, or undefined when it does not exist (or expired, or is malformed). */
export async function loadJob(store: Store, id: string): Promise<JobRecord | undefined> {
  if (!/^job_[A-Za-z0-9]{10,64}$/.test(id)) return undefined;
  const raw = await store.get<unknown>(jobKey(id));
  if (raw === null) return undefined;
  return JobRecordSchema.safeParse(typeof raw === 'string' ? parseJson(raw) : raw).data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Writes the job with the result TTL. */
export async function saveJob(store: Store, job: JobRecord, ttlSeconds: number): Promise<void> {
  await store.set(jobKey(job.id), JSON.stringify(job), { ex: ttlSeconds });
}

/** Writes the job unless a record of its id exists; true when it was written. */
export async function saveNewJob(store: Store, job: JobRecord, ttlSeconds: number): Promise<boolean> {
  const written = await store.set(jobKey(job.id), JSON.stringify(job), { ex: ttlSeconds, nx: true });
  return written === 'OK';
}

/**
 * The record of a job a webhook delivery triggers, as its ingest writes it: queued for the source's
 * tenant, readable by id at once, built (tenant plan, rendered request) by the webhook consumer.
 */
export function triggeredJob(input: {
  readonly id: string;
  readonly tenantId: string;
  readonly model: string;
  readonly trigger: NonNullable<JobRecord['trigger']>;
  readonly receivedAt: number;
  readonly deadlineSeconds: number;
}): JobRecord {
  return {
    id: input.id,
    tenantId: input.tenantId,
    model: input.model,
    trigger: input.trigger,
    pendingAdmission: { deadlineAt: input.receivedAt + input.deadlineSeconds * 1000 },
    status: 'queued',
    attempts: 0,
    createdAt: input.receivedAt,
    updatedAt: input.receivedAt,
  };
}

/** Deletes the job record (a submission that could not be queued). */
export async function deleteJob(store: Store, id: string): Promise<void> {
  await store.del(jobKey(id));
}

/** A new job id. */
export function newJobId(): string {
  return `job_${crypto.randomUUID().replaceAll('-', '')}`;
}

/** The id of the job a webhook delivery triggers: the same for every copy and replay of the delivery. */
export async function webhookJobId(source: string, deliveryId: string): Promise<string> {
  return `job_${(await sha256Hex(`webhook-job\n${source}\n${deliveryId}`)).slice(0, 32)}`;
}

/** The public view of a job (`GET /v1/jobs/{id}`, the delivered webhook's `data`). */
export function jobView(job: JobRecord) {
  return {
    id: job.id,
    status: job.status,
    model: job.request?.model ?? job.model ?? '',
    ...(job.priority ? { priority: job.priority } : {}),
    created_at: Math.floor(job.createdAt / 1000),
    updated_at: Math.floor(job.updatedAt / 1000),
    ...(job.result ? { result: job.result } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.delivery ? { delivery: { status: job.delivery.status, attempts: job.delivery.attempts } } : {}),
    ...(job.trigger ? { webhook: { source: job.trigger.source, event_id: job.trigger.eventId, type: job.trigger.eventType } } : {}),
  };
}
