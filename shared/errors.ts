/**
 * Error codes and the one error envelope every edge and backend answer uses (SPEC §2).
 * Runtime-agnostic: no node:*, no hono, no AWS SDK.
 */
import * as z from 'zod';

/** Every error code the public API can answer with. */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'BUDGET_EXCEEDED',
  'TIMEOUT',
  'UPSTREAM_ERROR',
  'INTERNAL_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The status each code gets unless a more precise one applies (413/415 for INVALID_INPUT, 503 for UPSTREAM_ERROR). */
export const DEFAULT_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_INPUT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  /** The tenant's monthly spend budget is used up: 429 with Retry-After until the month ends. */
  BUDGET_EXCEEDED: 429,
  TIMEOUT: 504,
  UPSTREAM_ERROR: 502,
  INTERNAL_ERROR: 500,
};

export const ErrorObjectSchema = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
  /** OpenAI-compatible routes only: the error class the OpenAI SDKs read. */
  type: z.string().optional(),
});

export const ErrorEnvelopeSchema = z
  .object({
    success: z.literal(false),
    data: z.null(),
    error: ErrorObjectSchema,
    timestamp: z.number().int(),
    request_id: z.string(),
  })
  .meta({ id: 'ErrorEnvelope' });

export type ErrorObject = z.infer<typeof ErrorObjectSchema>;
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;

/** Builds the envelope; `now` is injectable for tests. */
export function errorEnvelope(error: ErrorObject, requestId: string, now: number = Date.now()): ErrorEnvelope {
  return { success: false, data: null, error, timestamp: Math.floor(now / 1000), request_id: requestId };
}
