/**
 * Shared pieces of the adapters' configuration: parsing `process.env` once at cold start with zod,
 * failing with one AdapterConfigError that names every bad setting, and the settings both adapters read.
 */
import * as z from 'zod';
import { describeIssues, jsonString } from '../../shared/settings';
import { ModelNameSchema } from '../../shared/contracts/infer';
import { CHAT_TEMPLATES } from '../core/chat-template';
import type { TracingSettings } from '../core/tracing';

/** A missing or malformed setting; the message names each one. */
export class AdapterConfigError extends Error {
  override readonly name = 'AdapterConfigError';
}

/** A duration in ms, from a string. */
export const millis = (fallback: number) => z.coerce.number().int().positive().max(900_000).default(fallback);

/** `true`/`1` or `false`/`0`, default false. */
export const flag = z
  .enum(['true', 'false', '1', '0'])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

/** The per-model settings every adapter shares (format-related). */
export const modelSettings = {
  /** How chat messages become a prompt for text-only formats (core/chat-template.ts). */
  chatTemplate: z.enum(CHAT_TEMPLATES).default('default'),
  /** `model` in OpenAI-style bodies. */
  modelId: z.string().min(1).max(256).optional(),
};

/** A record of models keyed by gateway model name, from a JSON setting; at least one. */
export function modelsSetting<T extends z.ZodType>(model: T) {
  return jsonString.pipe(z.record(ModelNameSchema, model).refine((m) => Object.keys(m).length > 0, 'configure at least one model'));
}

/** Settings every adapter reads. */
export const CommonEnvShape = {
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** Log prompts and outputs at DEBUG level (also needs POWERTOOLS_LOG_LEVEL=DEBUG). Never on by default. */
  LOG_PAYLOADS: flag,
  /** CloudWatch namespace of the EMF metrics. */
  POWERTOOLS_METRICS_NAMESPACE: z.string().min(1).max(255).default('InferenceGateway'),
  /** The deployment environment (`dev`, `staging`, `prod`; CDK sets it): the spans' `deployment.environment.name`. */
  ENVIRONMENT: z.string().min(1).max(64).default('local'),
  /** The OTLP/HTTP collector's traces URL (`…/v1/traces`); unset: no spans (core/tracing.ts). */
  TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Bound on one span export and on the flush before an invocation ends (ms). */
  TRACES_TIMEOUT_MS: millis(2_000),
  /** Share of new traces sampled (0–1); the edge's `traceparent` decides for the traces it starts. */
  TRACES_SAMPLE_RATIO: z.coerce.number().min(0).max(1).default(1),
};

/** Observability settings both adapters pass to Powertools and the tracing. */
export interface ObservabilityConfig {
  readonly logPayloads: boolean;
  readonly metricsNamespace: string;
  readonly traces: TracingSettings;
}

/** The observability settings of parsed common settings. */
export function observabilityOf(e: {
  LOG_PAYLOADS: boolean;
  POWERTOOLS_METRICS_NAMESPACE: string;
  ENVIRONMENT: string;
  TRACES_ENDPOINT?: string | undefined;
  TRACES_TIMEOUT_MS: number;
  TRACES_SAMPLE_RATIO: number;
}): ObservabilityConfig {
  return {
    logPayloads: e.LOG_PAYLOADS,
    metricsNamespace: e.POWERTOOLS_METRICS_NAMESPACE,
    traces: { endpoint: e.TRACES_ENDPOINT, timeoutMs: e.TRACES_TIMEOUT_MS, sampleRatio: e.TRACES_SAMPLE_RATIO, environment: e.ENVIRONMENT },
  };
}

/**
 * Validates the keys of `shape` in `env` (empty strings count as unset); throws AdapterConfigError naming
 * every problem, e.g. `SAGEMAKER_MODELS.llama.format: Invalid option`.
 */
export function parseEnv<S extends z.ZodRawShape>(adapter: string, shape: S, env: NodeJS.ProcessEnv): z.infer<z.ZodObject<S>> {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(shape)) input[key] = env[key] === '' ? undefined : env[key];
  const result = z.object(shape).safeParse(input);
  if (!result.success) {
    throw new AdapterConfigError(`invalid ${adapter} adapter configuration: ${describeIssues(result.error).join('; ')}`);
  }
  return result.data;
}
