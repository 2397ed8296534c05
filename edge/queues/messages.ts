/**
 * What travels through the edge's Cloudflare Queues: verified webhook events, async jobs (one queue
 * per priority tier), outbound deliveries, and dead letters. Each body names its `kind`, so one
 * `queue()` handler can dispatch, and a dead letter can be redriven to the queue it came from.
 */
import * as z from 'zod';
import { formatTraceparent, parseTraceparent, type TraceContext } from '../../shared/contracts/trace';
import { PRIORITIES } from '../../shared/plans';

/** The W3C trace context of the request that queued a message, which the work it leads to continues. */
const TraceFields = { traceparent: z.string().max(55).optional(), tracestate: z.string().max(512).optional() };

/** A message's trace fields for `trace` (none without one). */
export function traceFields(trace: TraceContext | undefined): { traceparent?: string; tracestate?: string } {
  if (!trace) return {};
  return { traceparent: formatTraceparent(trace), ...(trace.tracestate ? { tracestate: trace.tracestate } : {}) };
}

/** The trace a message carries, when its fields are valid. */
export const messageTrace = (m: { readonly traceparent?: string | undefined; readonly tracestate?: string | undefined }) =>
  parseTraceparent(m.traceparent, m.tracestate);

/** The public body of an ingested webhook (SPEC §5). */
export const WebhookEventSchema = z
  .object({
    id: z.string().min(1).max(256),
    type: z.string().min(1).max(128),
    payload: z.unknown().refine((v) => v !== undefined, 'required'),
  })
  .strict();

export const WebhookMessageSchema = z.object({
  kind: z.literal('webhook'),
  source: z.string(),
  /** The dedupe id (webhook-id, Idempotency-Key, or the body's id). */
  deliveryId: z.string(),
  event: WebhookEventSchema,
  receivedAt: z.number().int(),
  requestId: z.string(),
  ...TraceFields,
});

export const JobMessageSchema = z.object({
  kind: z.literal('job'),
  jobId: z.string(),
  tenantId: z.string(),
  priority: z.enum(PRIORITIES),
  /** The submitting request's (or webhook's), which the job's upstream call continues. */
  ...TraceFields,
});

export const DeliveryMessageSchema = z.object({
  kind: z.literal('delivery'),
  /** The webhook id the receiver dedupes on; stable across retries. */
  deliveryId: z.string(),
  jobId: z.string(),
  tenantId: z.string(),
});

/** A signed notification to a tenant's callback URL (a spend budget's threshold), delivered like a job result. */
export const NoticeMessageSchema = z.object({
  kind: z.literal('notice'),
  /** The webhook id the receiver dedupes on; one per notice (e.g. a budget's month and threshold). */
  deliveryId: z.string(),
  tenantId: z.string(),
  type: z.string(),
  data: z.record(z.string(), z.unknown()),
});

export const LiveMessageSchema = z.discriminatedUnion('kind', [WebhookMessageSchema, JobMessageSchema, DeliveryMessageSchema, NoticeMessageSchema]);

export const DeadLetterMessageSchema = z.object({
  kind: z.literal('dead-letter'),
  original: LiveMessageSchema,
  reason: z.string(),
  attempts: z.number().int(),
  failedAt: z.number().int(),
  /** The dead message's own id: a message dead-lettered twice (a redelivery) is recorded once. */
  messageId: z.string().optional(),
  /** The queue it died on. */
  queue: z.string().optional(),
});

export type WebhookMessage = z.infer<typeof WebhookMessageSchema>;
export type JobMessage = z.infer<typeof JobMessageSchema>;
export type DeliveryMessage = z.infer<typeof DeliveryMessageSchema>;
export type NoticeMessage = z.infer<typeof NoticeMessageSchema>;
export type LiveMessage = z.infer<typeof LiveMessageSchema>;
export type DeadLetterMessage = z.infer<typeof DeadLetterMessageSchema>;

/** Any body the edge puts on a queue. */
export type QueueMessageBody = LiveMessage | DeadLetterMessage;
