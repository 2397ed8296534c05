/**
 * Run-time configuration of the reference model server: latency knobs, failure injection and
 * per-endpoint overrides, with defaults, a zod schema for (admin API) patches and the merge rules.
 */
import * as z from 'zod';
import { FORMAT_NAMES, type FormatName } from './formats';

/** Statuses `forcedStatus` accepts (530 = SageMaker's InternalDependencyException). */
export const FORCED_STATUSES = [400, 424, 429, 500, 503, 530] as const;
export type ForcedStatus = (typeof FORCED_STATUSES)[number];

/** `auto` detects the body's format from its shape (as LMI does); otherwise the container only speaks that one. */
export type ContainerFormat = 'auto' | FormatName;
/** How a stream fails at `streamCutAfter`: an in-band error (ModelStreamError frame / SSE error event), or a dropped connection. */
export type StreamCutMode = 'error' | 'close';
/**
 * How SageMaker routes fail while warming: `no-capacity` is a scaled-to-zero inference component
 * (ValidationError 400, counted by NoCapacityInvocationFailures); `model-not-ready` is
 * ModelNotReadyException (429), as a serverless endpoint or a multi-model endpoint still loading.
 */
export type WarmingStyle = 'no-capacity' | 'model-not-ready';
/** How container bytes map to PayloadParts: one per event, each event split in two, or two events per part. */
export type PayloadFraming = 'event' | 'split' | 'coalesce';

/** Knobs that apply per invocation: set globally, overridable per endpoint (or per OpenAI `model`). */
export interface BehaviourConfig {
  /** Time to first token, ms. Default 0. */
  readonly ttftMs: number;
  /** Time between tokens, ms. Default 0. */
  readonly perTokenMs: number;
  /** Fraction of invocations (0..1) that fail with a container 500: the n-th fails when ⌊n·rate⌋ > ⌊(n−1)·rate⌋. Default 0. */
  readonly errorRate: number;
  /** Fail every invocation with this status and the protocol's matching error. Default null. */
  readonly forcedStatus: ForcedStatus | null;
  /** Streams fail after this many tokens (when the generation has more). Default null. */
  readonly streamCutAfter: number | null;
  /** Default `error`. */
  readonly streamCutMode: StreamCutMode;
  /** Invocations fail as a scaled-to-zero endpoint does until this epoch-ms time. Default null. */
  readonly warmingUntil: number | null;
  /** Default `no-capacity`. */
  readonly warmingStyle: WarmingStyle;
  /** `Retry-After` seconds on forced 429/503. Default 1. */
  readonly retryAfterSeconds: number;
  /** Request format on `/invocations` routes. Default `auto`. */
  readonly format: ContainerFormat;
  /** PayloadPart framing on SageMaker response streams. Default `event`. */
  readonly payloadFraming: PayloadFraming;
  /** Length of the vectors the embedding routes answer (embeddings.ts). Default 384. */
  readonly embeddingDimensions: number;
  /** Tool-call arguments and `response_format` JSON ignore their schema (to test the edge's validation). Default false. */
  readonly schemaViolation: boolean;
}

/** Faults of the whole container: `reset` drops every connection but the admin API's (a dead container). */
export type ContainerFault = 'reset';

/** The whole configuration. */
export interface ModelServerConfig extends BehaviourConfig {
  /** A fault of the whole container. Default null. */
  readonly fault: ContainerFault | null;
  /** Listed by `GET /v1/models` and used when a request names no model. Default `reference-model`. */
  readonly modelName: string;
  /** Context window: prompt tokens + max tokens above this is a 400 (422 for TGI). Default 4096. */
  readonly maxModelLen: number;
  /** Overrides keyed by SageMaker endpoint name (or OpenAI `model` on the OpenAI routes). */
  readonly endpoints: Readonly<Record<string, Partial<BehaviourConfig>>>;
}

/** A behaviour patch; `warmingForMs` is input-only: it sets `warmingUntil` to now + ms (null clears it). */
export type BehaviourPatch = Partial<BehaviourConfig> & { readonly warmingForMs?: number | null };

/** A configuration patch: fields replace, `endpoints` merges per name (`null` removes an override). */
export type ModelServerConfigPatch = Partial<Omit<ModelServerConfig, 'endpoints'>> & {
  readonly warmingForMs?: number | null;
  readonly endpoints?: Readonly<Record<string, BehaviourPatch | null>>;
};

/** Defaults: instant, fault-free, auto-detected format. */
export const DEFAULT_CONFIG: ModelServerConfig = {
  ttftMs: 0,
  perTokenMs: 0,
  errorRate: 0,
  forcedStatus: null,
  streamCutAfter: null,
  streamCutMode: 'error',
  warmingUntil: null,
  warmingStyle: 'no-capacity',
  retryAfterSeconds: 1,
  format: 'auto',
  payloadFraming: 'event',
  embeddingDimensions: 384,
  schemaViolation: false,
  fault: null,
  modelName: 'reference-model',
  maxModelLen: 4096,
  endpoints: {},
};

/** Raised for an invalid configuration patch (the admin API answers 400 with its message). */
export class ModelServerConfigError extends Error {
  override readonly name = 'ModelServerConfigError';
}

const ms = z.number().min(0).max(600_000);
const behaviourShape = {
  ttftMs: ms,
  perTokenMs: ms,
  errorRate: z.number().min(0).max(1),
  forcedStatus: z.literal(FORCED_STATUSES).nullable(),
  streamCutAfter: z.number().int().min(0).nullable(),
  streamCutMode: z.enum(['error', 'close']),
  warmingUntil: z.number().min(0).nullable(),
  warmingForMs: ms.nullable(),
  warmingStyle: z.enum(['no-capacity', 'model-not-ready']),
  retryAfterSeconds: z.number().int().min(0).max(3600),
  format: z.enum(['auto', ...FORMAT_NAMES]),
  payloadFraming: z.enum(['event', 'split', 'coalesce']),
  embeddingDimensions: z.number().int().min(1).max(16_384),
  schemaViolation: z.boolean(),
};
const behaviourPatchSchema = z.strictObject(behaviourShape).partial();
const configPatchSchema = z
  .strictObject({
    ...behaviourShape,
    fault: z.literal('reset').nullable(),
    modelName: z.string().min(1).max(256),
    maxModelLen: z.number().int().min(16).max(1_000_000),
    endpoints: z.record(z.string().min(1).max(256), behaviourPatchSchema.nullable()),
  })
  .partial();

/** Validates an untrusted patch (e.g. a PUT /admin/config body); throws {@link ModelServerConfigError}. */
export function parseConfigPatch(input: unknown): ModelServerConfigPatch {
  const parsed = configPatchSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message));
    throw new ModelServerConfigError(`invalid model server config: ${issues.join('; ')}`);
  }
  return parsed.data;
}

function applyBehaviour<T extends Partial<BehaviourConfig>>(base: T, patch: BehaviourPatch, now: number): T {
  const { warmingForMs, ...rest } = patch;
  const next = { ...base, ...rest };
  return warmingForMs === undefined ? next : { ...next, warmingUntil: warmingForMs === null ? null : now + warmingForMs };
}

/** Validates `patch` and merges it into `current`; `now` anchors `warmingForMs`. */
export function applyConfigPatch(current: ModelServerConfig, patch: ModelServerConfigPatch, now: number): ModelServerConfig {
  const { endpoints, ...top } = parseConfigPatch(patch);
  const next = applyBehaviour(current, top, now);
  if (endpoints === undefined) return next;
  const merged: Record<string, Partial<BehaviourConfig>> = { ...current.endpoints };
  for (const [name, override] of Object.entries(endpoints)) {
    if (override === null) delete merged[name];
    else merged[name] = applyBehaviour(merged[name] ?? {}, override, now);
  }
  return { ...next, endpoints: merged };
}

/** The behaviour for one target: global settings with its endpoint override on top. */
export function behaviourFor(config: ModelServerConfig, target: string): BehaviourConfig {
  const override = Object.hasOwn(config.endpoints, target) ? config.endpoints[target] : undefined;
  return override ? { ...config, ...override } : config;
}
