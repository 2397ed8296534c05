/**
 * The public inference contract (`POST /v1/infer`, `/v1/infer/stream`) and the generation params
 * shared by every route. Limits here are the defaults of SPEC §2; the edge may tighten them per plan.
 */
import * as z from 'zod';

/** Longest prompt accepted, in characters (SPEC §2). */
export const MAX_PROMPT_CHARS = 32_768;

/** Completion length when a request sets no `max_tokens` (capped by the plan's maximum). */
export const DEFAULT_MAX_TOKENS = 256;

/** Generation parameters understood by every backend format. */
export const GenerationParamsSchema = z
  .object({
    max_tokens: z.number().int().min(1).max(32_768).optional(),
    temperature: z.number().min(0).max(2).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    stop: z.union([z.string().min(1).max(256), z.array(z.string().min(1).max(256)).max(8)]).optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional(),
    presence_penalty: z.number().min(-2).max(2).optional(),
    frequency_penalty: z.number().min(-2).max(2).optional(),
    /** Token id (as a decimal string) → bias in [-100, 100], as OpenAI takes it. */
    logit_bias: z
      .record(z.string().regex(/^\d{1,9}$/, 'token ids are decimal integers'), z.number().min(-100).max(100))
      .refine((b) => Object.keys(b).length <= 300, 'at most 300 biased tokens')
      .optional(),
  })
  .strict();

export type GenerationParams = z.infer<typeof GenerationParamsSchema>;

/** A model name: letters, digits and `._:/-`, as served models are usually named. */
export const ModelNameSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, 'model names use letters, digits and . _ : / -');

export const InferRequestSchema = z
  .object({
    model: ModelNameSchema,
    prompt: z.string().min(1).max(MAX_PROMPT_CHARS),
    params: GenerationParamsSchema.optional(),
  })
  .strict()
  .meta({ id: 'InferRequest', description: 'A completion-style inference request. Unknown fields are rejected.' });

export type InferRequest = z.infer<typeof InferRequestSchema>;

export const UsageSchema = z
  .object({
    prompt_tokens: z.number().int().nonnegative(),
    completion_tokens: z.number().int().nonnegative(),
  })
  .meta({ id: 'Usage' });

export type Usage = z.infer<typeof UsageSchema>;

export const InferResponseSchema = z
  .object({
    id: z.string(),
    model: z.string(),
    output: z.string(),
    usage: UsageSchema,
    latency_ms: z.number().nonnegative(),
  })
  .meta({ id: 'InferResponse' });

export type InferResponse = z.infer<typeof InferResponseSchema>;

/** `POST /v1/infer/stream` events: `token` per chunk, then `done`, or `error` if it fails mid-stream. */
const _InferStreamTokenSchema = z.object({ text: z.string() }).meta({ id: 'InferStreamToken' });
const _InferStreamDoneSchema = z.object({ id: z.string(), usage: UsageSchema, latency_ms: z.number().nonnegative() }).meta({ id: 'InferStreamDone' });
