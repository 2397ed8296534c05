/**
 * Lambda entry of the SageMaker adapter (Function URL, AWS_IAM auth, RESPONSE_STREAM invoke mode).
 * Wiring only: config (fails the cold start when wrong), Powertools, the SDK client; the logic lives
 * in core/ and adapters/sagemaker/. Settings: backend/config/sagemaker.ts.
 */
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { sagemakerBackend } from '../adapters/sagemaker/transport';
import { loadSagemakerConfig } from '../config/sagemaker';
import { createTracing } from '../core/tracing';
import { createStreamingHandler } from './lambda-stream';
import { createPowertools } from './powertools';

// Parsed and created once per execution environment (cold start); a bad setting fails the init.
const config = loadSagemakerConfig();
const SERVICE_NAME = 'sagemaker-adapter';
const powertools = createPowertools(SERVICE_NAME, config.observability);
// Created once per execution environment: its keep-alive connections outlive invocations. No SDK
// retries: the edge retries with its own deadline, backoff and circuit breaker.
const client = powertools.tracer.captureAWSv3Client(
  new SageMakerRuntimeClient({
    region: config.region,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: config.connectTimeoutMs },
    ...(config.runtimeEndpoint ? { endpoint: config.runtimeEndpoint } : {}),
  }),
);

/** The Function URL handler (RESPONSE_STREAM). */
export const handler = createStreamingHandler({
  backend: sagemakerBackend(client, config),
  powertools,
  logPayloads: config.observability.logPayloads,
  // One per execution environment: the span processor's buffer and the exporter's connections.
  tracing: createTracing(SERVICE_NAME, config.observability.traces),
});
