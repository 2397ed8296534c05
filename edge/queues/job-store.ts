/**
 * Async job records in Redis (`gw:job:<id>`, JSON, expiring after the result TTL): what was asked,
 * by which tenant and plan, where the result goes, and the status and result or error. Read by
 * `GET /v1/jobs/{id}` (tenant-scoped) and written by the jobs consumer.
 */
import * as z from 'zod';
import { InferRequestSchema, InferResponseSchema } from '../../shared/contracts/infer';
import { ERROR_CODES } from '../../shared/errors';
import { PRIORITIES, PLANS } from '../../shared/plans';
import { SCOPES } from '../../shared/contracts/tenancy';
import type { Store } from '../services/store';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;

const PlanSnapshotSchema = z.object({
  plan: z.enum(PLANS),
  requestsPerMinute: z.number(),
  requestsPerHour: z.number(),
  requestsPerDay: z.number(),
  tokensPerMinute: z.number(),
  tokensPerDay: z.number(),
  maxTokens: z.number(),
  priority: z.enum(PRIORITIES),
  allowedModels: z.array(z.string()).optional(),
});

export const JobRecordSchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  /** The submitting key's auth, so the consumer enforces the same plan. */
  auth: z.object({ keyId: z.string(), plan: PlanSnapshotSchema, scopes: z.array(z.enum(SCOPES)) }),
  priority: z.enum(PRIORITIES),
  request: InferRequestSchema,
  callbackUrl: z.string().optional(),
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

/** Deletes the job record (a submission that could not be queued). */
export async function deleteJob(store: Store, id: string): Promise<void> {
  await store.del(jobKey(id));
}

/** A new job id. */
export function newJobId(): string {
  return `job_${crypto.randomUUID().replaceAll('-', '')}`;
}

/** The public view of a job (`GET /v1/jobs/{id}`, the delivered webhook's `data`). */
export function jobView(job: JobRecord) {
  return {
    id: job.id,
    status: job.status,
    model: job.request.model,
    priority: job.priority,
    created_at: Math.floor(job.createdAt / 1000),
    updated_at: Math.floor(job.updatedAt / 1000),
    ...(job.result ? { result: job.result } : {}),
    ...(job.error ? { error: job.error } : {}),
    ...(job.delivery ? { delivery: { status: job.delivery.status, attempts: job.delivery.attempts } } : {}),
  };
}
