/**
 * The ECS adapter's settings (parsed once at cold start):
 *
 *   ECS_BASE_URL                   base URL of the OpenAI-compatible server behind the internal ALB,
 *                                  e.g. `http://internal-llm-alb.local/v1` (required unless every model has its own)
 *   ECS_MODELS                     JSON, required: { "<model>": { format, modelId?, baseUrl?, chatTemplate? } }
 *                                  format: `openai-chat` → {base}/chat/completions, `openai-completions` →
 *                                  {base}/completions, `tgi` → {base}/generate(_stream) (TGI's native API;
 *                                  give such a model the server root as `baseUrl`), `openai-embeddings` →
 *                                  {base}/embeddings (vLLM, TEI; embeddings only). `modelId` defaults to the
 *                                  gateway model name (vLLM's `--served-model-name`).
 *   ECS_REQUEST_TIMEOUT_MS         non-streaming call, default 60000
 *   ECS_FIRST_TOKEN_TIMEOUT_MS     streaming: call to first token, default 60000
 *   ECS_STREAM_IDLE_TIMEOUT_MS     streaming: longest gap between chunks, default 30000
 *   AWS_REGION, LOG_PAYLOADS, POWERTOOLS_METRICS_NAMESPACE, ENVIRONMENT, TRACES_* (config/env.ts)
 */
import * as z from 'zod';
import type { Timeouts } from '../core/backend';
import type { ContainerModel } from '../core/formats';
import { CommonEnvShape, AdapterConfigError, millis, modelSettings, modelsSetting, parseEnv, observabilityOf, type ObservabilityConfig } from './env';

const httpUrl = z.url({ protocol: /^https?$/ });

/** One model served by the ECS service (a value of ECS_MODELS). */
export const EcsModelSchema = z
  .object({
    format: z.enum(['openai-chat', 'openai-completions', 'tgi', 'openai-embeddings']),
    /** Overrides ECS_BASE_URL for this model (another service, or TGI's root). */
    baseUrl: httpUrl.optional(),
    ...modelSettings,
  })
  .strict();

/** A model as the ECS adapter uses it: base URL and model id resolved. */
export type EcsModel = Omit<z.infer<typeof EcsModelSchema>, 'baseUrl'> & ContainerModel & { readonly baseUrl: string; readonly modelId: string };

const EcsEnvShape = {
  ...CommonEnvShape,
  ECS_BASE_URL: httpUrl.optional(),
  ECS_MODELS: modelsSetting(EcsModelSchema),
  ECS_REQUEST_TIMEOUT_MS: millis(60_000),
  ECS_FIRST_TOKEN_TIMEOUT_MS: millis(60_000),
  ECS_STREAM_IDLE_TIMEOUT_MS: millis(30_000),
};

/** The ECS adapter's parsed settings. */
export interface EcsConfig {
  readonly models: Readonly<Record<string, EcsModel>>;
  readonly timeouts: Timeouts;
  readonly observability: ObservabilityConfig;
}

/** Parses the ECS adapter's settings; throws AdapterConfigError naming every bad one. */
export function loadEcsConfig(env: NodeJS.ProcessEnv = process.env): EcsConfig {
  const e = parseEnv('ECS', EcsEnvShape, env);
  const models: Record<string, EcsModel> = {};
  const missing: string[] = [];
  for (const [name, m] of Object.entries(e.ECS_MODELS)) {
    const baseUrl = m.baseUrl ?? e.ECS_BASE_URL;
    if (baseUrl === undefined) missing.push(name);
    else models[name] = { ...m, baseUrl, modelId: m.modelId ?? name };
  }
  if (missing.length > 0)
    throw new AdapterConfigError(`invalid ECS adapter configuration: ECS_BASE_URL: required for ${missing.join(', ')} (or give each a baseUrl)`);
  return {
    models,
    timeouts: { requestMs: e.ECS_REQUEST_TIMEOUT_MS, firstTokenMs: e.ECS_FIRST_TOKEN_TIMEOUT_MS, idleMs: e.ECS_STREAM_IDLE_TIMEOUT_MS },
    observability: observabilityOf(e),
  };
}
