/**
 * Adapter configuration, parsed once at cold start from process.env with zod. A missing or malformed
 * setting stops the cold start with a message naming it.
 */
import { z } from 'zod';
import { ModelNameSchema } from '../shared/contracts/infer';
import { CONTAINER_FORMATS } from './core/formats';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const jsonString = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
    return z.NEVER;
  }
});

export const SagemakerModelSchema = z.object({
  /** The SageMaker endpoint name. */
  endpointName: z.string().min(1).max(63).regex(/^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/),
  format: z.enum(CONTAINER_FORMATS),
  /** Model id sent in OpenAI-style bodies (LMI/vLLM may require it). */
  modelId: z.string().min(1).optional(),
  targetVariant: z.string().min(1).optional(),
  inferenceComponent: z.string().min(1).optional(),
});

export type SagemakerModel = z.infer<typeof SagemakerModelSchema>;

const SagemakerEnvSchema = z.object({
  AWS_REGION: z.string().min(1).default('us-east-1'),
  /** Overrides the SageMaker runtime endpoint (the reference model server locally). */
  SAGEMAKER_RUNTIME_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  SAGEMAKER_MODELS: jsonString.pipe(z.record(ModelNameSchema, SagemakerModelSchema)),
  INVOKE_TIMEOUT_MS: z.coerce.number().int().positive().default(60_000),
});

export interface SagemakerConfig {
  readonly region: string;
  readonly runtimeEndpoint: string | undefined;
  readonly models: Readonly<Record<string, SagemakerModel>>;
  readonly invokeTimeoutMs: number;
}

/** Parses the SageMaker adapter's settings; throws ConfigError naming every bad one. */
export function loadSagemakerConfig(env: NodeJS.ProcessEnv = process.env): SagemakerConfig {
  const result = SagemakerEnvSchema.safeParse({
    AWS_REGION: env.AWS_REGION || undefined,
    SAGEMAKER_RUNTIME_ENDPOINT: env.SAGEMAKER_RUNTIME_ENDPOINT || undefined,
    SAGEMAKER_MODELS: env.SAGEMAKER_MODELS,
    INVOKE_TIMEOUT_MS: env.INVOKE_TIMEOUT_MS || undefined,
  });
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid SageMaker adapter configuration: ${problems.join('; ')}`);
  }
  const e = result.data;
  return { region: e.AWS_REGION, runtimeEndpoint: e.SAGEMAKER_RUNTIME_ENDPOINT, models: e.SAGEMAKER_MODELS, invokeTimeoutMs: e.INVOKE_TIMEOUT_MS };
}
