/**
 * The edge ↔ backend payloads: what the edge POSTs to a Lambda adapter's Function URL and what the
 * adapter answers. One shape for every adapter; container formats are the adapter's business.
 */
import { z } from 'zod';
import { GenerationParamsSchema, ModelNameSchema, UsageSchema, MAX_PROMPT_CHARS } from './infer';
import { ErrorObjectSchema } from '../errors';

export const BackendInferRequestSchema = z
  .object({
    request_id: z.string().min(1).max(128),
    tenant_id: z.string().min(1).max(128),
    model: ModelNameSchema,
    prompt: z.string().min(1).max(MAX_PROMPT_CHARS),
    params: GenerationParamsSchema.default({}),
    stream: z.boolean().default(false),
  })
  .strict();

export type BackendInferRequest = z.infer<typeof BackendInferRequestSchema>;
export type BackendInferRequestInput = z.input<typeof BackendInferRequestSchema>;

export const BackendInferResponseSchema = z.object({
  output: z.string(),
  usage: UsageSchema,
  /** Time the model call took as the adapter measured it. */
  model_latency_ms: z.number().nonnegative(),
});

export type BackendInferResponse = z.infer<typeof BackendInferResponseSchema>;

/** A backend failure: the envelope's error object plus the HTTP status the adapter chose. */
export const BackendErrorSchema = z.object({ error: ErrorObjectSchema });
export type BackendError = z.infer<typeof BackendErrorSchema>;
