/**
 * The route table: which backends (Lambda adapter Function URLs) serve each model, with canary
 * weights, an optional shadow, an ordered fallback list, per-tier timeouts and breaker thresholds.
 * Parsed from the `ROUTE_TABLE` JSON setting of each environment, once per isolate (edge/env.ts).
 *
 * The original shape `{models: {m: {backends: [{name, url, kind}]}}}` stays valid: with no weights
 * the first backend takes all traffic and the others are its fallbacks, in order (what the CDK
 * output means by "SageMaker first, ECS as fallback").
 */
import * as z from 'zod';
import { ModelNameSchema } from '../../shared/contracts/infer';
import type { Priority } from '../../shared/plans';
import { CurrencySchema, PriceSchema } from './usage/prices';
import { ModelCapabilitiesSchema, NO_CAPABILITIES } from '../../shared/contracts/capabilities';

const ms = z.number().int().positive().max(600_000);

/** Per priority tier (the plan's `priority`), the deadline of a whole request in ms. */
export const TierTimeoutsSchema = z.object({ vip: ms, standard: ms, low: ms }).strict();
export const DEFAULT_TIMEOUTS: TierTimeouts = { vip: 5_000, standard: 30_000, low: 60_000 };

/** Circuit breaker thresholds: open after `failureThreshold` failures within `windowMs`, probe after `openMs`. */
export const BreakerSettingsSchema = z.object({ failureThreshold: z.number().int().min(1).max(1_000), windowMs: ms, openMs: ms }).strict();
export const DEFAULT_BREAKER: BreakerSettings = { failureThreshold: 5, windowMs: 60_000, openMs: 60_000 };

/** Retries on one backend: exponential backoff with full jitter, `maxAttempts` in all. */
export const RetrySettingsSchema = z
  .object({ maxAttempts: z.number().int().min(1).max(10), baseMs: z.number().int().min(0).max(10_000), capMs: z.number().int().min(0).max(60_000) })
  .strict();
export const DEFAULT_RETRY: RetrySettings = { maxAttempts: 3, baseMs: 100, capMs: 2_000 };

export const BackendSchema = z.object({
  /** Stable name used in logs, metrics, the breaker's key and the `X-Backend` header. */
  name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9][a-z0-9-]*$/),
  /** The adapter's Function URL (origin, optionally with a base path). */
  url: z.url({ protocol: /^https?$/ }),
  kind: z.enum(['sagemaker', 'ecs']),
  /** Share of traffic among the model's `backends` (any non-negative scale). */
  weight: z.number().min(0).max(1_000_000).optional(),
  /** Label for `X-Variant` (e.g. `stable`, `canary`); defaults to the backend's name when weights are set. */
  variant: z
    .string()
    .min(1)
    .max(32)
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional(),
  /** Per-tier attempt timeouts for this backend (partial: the rest from the table's `timeouts`). */
  timeouts: TierTimeoutsSchema.partial().optional(),
  breaker: BreakerSettingsSchema.partial().optional(),
});

/** Per priority tier, how long the embeddings batcher holds a batch open for more inputs (ms). */
export const FlushMsSchema = z
  .object({ vip: z.number().int().min(0).max(1_000), standard: z.number().int().min(0).max(1_000), low: z.number().int().min(0).max(1_000) })
  .strict();
const DEFAULT_FLUSH_MS: FlushMs = { vip: 2, standard: 5, low: 20 };
export const DEFAULT_MAX_BATCH_INPUTS = 32;

/** What marks a model as an embeddings model (it serves `POST /v1/embeddings` and no generation). */
export const EmbeddingsRouteSchema = z
  .object({
    /** Length of the model's vectors. */
    dimensions: z.number().int().min(1).max(16_384),
    /** The model accepts a smaller `dimensions` (Matryoshka-trained: vLLM, TEI shorten and renormalise). */
    shortenable: z.boolean().default(false),
    /** Token ids in an input must be below this, when given. */
    vocabSize: z.number().int().min(1).max(10_000_000).optional(),
    /** Longest input in tokens (the model's context), when given. */
    maxInputTokens: z.number().int().min(1).max(1_000_000).optional(),
    /** Most inputs the batcher merges into one backend call. */
    maxBatchInputs: z.number().int().min(1).max(2_048).default(DEFAULT_MAX_BATCH_INPUTS),
    /** Batch hold per tier (partial: the rest from {@link DEFAULT_FLUSH_MS}). */
    flushMs: FlushMsSchema.partial().optional(),
  })
  .strict();

export const ModelRouteSchema = z
  .object({
    backends: z.array(BackendSchema).min(1).max(16),
    /** Same tenant → same backend for every request (else tenant + request id are hashed). */
    sticky: z.boolean().default(false),
    /** Gets a copy of each request in `waitUntil`; its outcome is only logged and counted. */
    shadow: BackendSchema.optional(),
    /** Tried in order when the chosen backend is open, warming or failing. */
    fallbacks: z.array(BackendSchema).max(16).default([]),
    /** `POST /v1/responses` for this model: `translate` (default) to the chat path, or `native` where the model's server speaks the Responses API itself (vLLM). */
    responses: z.enum(['translate', 'native']).default('translate'),
    /** Set for an embeddings model: its vectors and how its calls are batched. */
    embeddings: EmbeddingsRouteSchema.optional(),
    /** What a request to this model costs (services/usage/prices.ts); none: recorded at 0. */
    price: PriceSchema.optional(),
    /** What the model can do beyond text (tools, JSON schema, logprobs, vision, n); absent: none. */
    capabilities: ModelCapabilitiesSchema.default(NO_CAPABILITIES),
  })
  .refine((r) => !r.backends.some((b) => b.weight !== undefined) || r.backends.some((b) => (b.weight ?? 0) > 0), 'at least one backend needs a weight above 0')
  // Only the ECS adapter relays the Responses API (to vLLM): a SageMaker backend could not serve such a call.
  .refine((r) => r.responses !== 'native' || [...r.backends, ...r.fallbacks].every((b) => b.kind === 'ecs'), {
    message: 'responses: "native" needs ECS backends and fallbacks only',
    path: ['responses'],
  })
  .refine((r) => r.responses !== 'native' || r.embeddings === undefined, { message: 'an embeddings model serves no Responses API', path: ['responses'] });

export const RouteTableSchema = z
  .object({
    models: z.record(ModelNameSchema, ModelRouteSchema).refine((m) => Object.keys(m).length > 0, 'at least one model'),
    timeouts: TierTimeoutsSchema.partial().optional(),
    breaker: BreakerSettingsSchema.partial().optional(),
    retry: RetrySettingsSchema.partial().optional(),
    /** The currency of every model's `price`. */
    currency: CurrencySchema,
  })
  .superRefine((table, ctx) => {
    // A backend name is the breaker's key: one name must always mean one URL.
    const urls = new Map<string, string>();
    for (const [model, route] of Object.entries(table.models)) {
      for (const b of [...route.backends, ...route.fallbacks, ...(route.shadow ? [route.shadow] : [])]) {
        const seen = urls.get(b.name);
        if (seen !== undefined && seen !== b.url)
          ctx.addIssue({ code: 'custom', path: ['models', model], message: `backend '${b.name}' is used with two URLs` });
        urls.set(b.name, b.url);
      }
    }
  });

export type Backend = z.infer<typeof BackendSchema>;
export type ModelRoute = z.infer<typeof ModelRouteSchema>;
export type RouteTable = z.infer<typeof RouteTableSchema>;
export type TierTimeouts = z.infer<typeof TierTimeoutsSchema>;
export type FlushMs = z.infer<typeof FlushMsSchema>;
export type EmbeddingsRoute = z.infer<typeof EmbeddingsRouteSchema>;
export type BreakerSettings = z.infer<typeof BreakerSettingsSchema>;
export type RetrySettings = z.infer<typeof RetrySettingsSchema>;

/** The route of a model, or undefined when the model is not routed. */
export function resolveRoute(table: RouteTable, model: string): ModelRoute | undefined {
  return Object.hasOwn(table.models, model) ? table.models[model] : undefined;
}

/** How long an embeddings model's batches stay open for a tier: the route's setting, else the default. */
export function flushMsFor(spec: EmbeddingsRoute, priority: Priority): number {
  return spec.flushMs?.[priority] ?? DEFAULT_FLUSH_MS[priority];
}

/** The attempt timeout of `backend` for a tier: its own setting, else the table's, else the default. */
export function timeoutFor(table: RouteTable, backend: Backend, priority: Priority): number {
  return backend.timeouts?.[priority] ?? table.timeouts?.[priority] ?? DEFAULT_TIMEOUTS[priority];
}

/** The request deadline for a tier (the table's setting, else the default). */
export function deadlineFor(table: RouteTable, priority: Priority): number {
  return table.timeouts?.[priority] ?? DEFAULT_TIMEOUTS[priority];
}

/** The breaker thresholds of `backend`. */
export function breakerFor(table: RouteTable, backend: Backend): BreakerSettings {
  return { ...DEFAULT_BREAKER, ...table.breaker, ...backend.breaker };
}

/** The retry settings of the table. */
export function retryFor(table: RouteTable): RetrySettings {
  return { ...DEFAULT_RETRY, ...table.retry };
}
