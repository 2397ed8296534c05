/**
 * The SageMaker adapter's settings (parsed once at cold start):
 *
 *   SAGEMAKER_MODELS                   JSON, required: { "<model>": { endpointName, format, modelId?,
 *                                      targetVariant?, inferenceComponent?, chatTemplate? } }
 *   SAGEMAKER_RUNTIME_ENDPOINT         URL override of the SageMaker runtime (the reference model server locally)
 *   SAGEMAKER_REQUEST_TIMEOUT_MS       non-streaming call, default 60000
 *   SAGEMAKER_FIRST_TOKEN_TIMEOUT_MS   streaming: call to first token, default 60000
 *   SAGEMAKER_STREAM_IDLE_TIMEOUT_MS   streaming: longest gap between chunks, default 30000
 *   SAGEMAKER_CONNECT_TIMEOUT_MS       TCP/TLS connect to the runtime, default 3000
 *   AWS_REGION, LOG_PAYLOADS, POWERTOOLS_METRICS_NAMESPACE, ENVIRONMENT, TRACES_* (config/env.ts)
 */
import * as z from 'zod';
import type { Timeouts } from '../core/backend';
import { CONTAINER_FORMATS, type ContainerModel } from '../core/formats';
import { EMBEDDING_FORMATS } from '../core/formats/embeddings';
import { CommonEnvShape, millis, modelSettings, modelsSetting, parseEnv, observabilityOf, type ObservabilityConfig } from './env';

/** One model on a SageMaker endpoint (a value of SAGEMAKER_MODELS). */
export const SagemakerModelSchema = z
  .object({
    /** The SageMaker endpoint name. */
    endpointName: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/, 'is not a valid endpoint name'),
    /** A generation format, or `tei-embed` for a TEI / Hugging Face embedding container (embeddings only). */
    format: z.enum([...CONTAINER_FORMATS, ...EMBEDDING_FORMATS]),
    /** Production variant to target (A/B inside one endpoint). */
    targetVariant: z.string().min(1).max(63).optional(),
    /** Inference component to invoke (endpoints with inference components, incl. scale to zero). */
    inferenceComponent: z.string().min(1).max(63).optional(),
    ...modelSettings,
  })
  .strict();

/** A model as the SageMaker adapter uses it. */
export type SagemakerModel = z.infer<typeof SagemakerModelSchema> & ContainerModel;

const SagemakerEnvShape = {
  ...CommonEnvShape,
  SAGEMAKER_MODELS: modelsSetting(SagemakerModelSchema),
  SAGEMAKER_RUNTIME_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  SAGEMAKER_REQUEST_TIMEOUT_MS: millis(60_000),
  SAGEMAKER_FIRST_TOKEN_TIMEOUT_MS: millis(60_000),
  SAGEMAKER_STREAM_IDLE_TIMEOUT_MS: millis(30_000),
  SAGEMAKER_CONNECT_TIMEOUT_MS: millis(3_000),
};

/** The SageMaker adapter's parsed settings. */
export interface SagemakerConfig {
  readonly region: string;
  readonly runtimeEndpoint: string | undefined;
  readonly models: Readonly<Record<string, SagemakerModel>>;
  readonly timeouts: Timeouts;
  readonly connectTimeoutMs: number;
  readonly observability: ObservabilityConfig;
}

/** Parses the SageMaker adapter's settings; throws AdapterConfigError naming every bad one. */
export function loadSagemakerConfig(env: NodeJS.ProcessEnv = process.env): SagemakerConfig {
  const e = parseEnv('SageMaker', SagemakerEnvShape, env);
  return {
    region: e.AWS_REGION,
    runtimeEndpoint: e.SAGEMAKER_RUNTIME_ENDPOINT,
    models: e.SAGEMAKER_MODELS,
    timeouts: { requestMs: e.SAGEMAKER_REQUEST_TIMEOUT_MS, firstTokenMs: e.SAGEMAKER_FIRST_TOKEN_TIMEOUT_MS, idleMs: e.SAGEMAKER_STREAM_IDLE_TIMEOUT_MS },
    connectTimeoutMs: e.SAGEMAKER_CONNECT_TIMEOUT_MS,
    observability: observabilityOf(e),
  };
}
