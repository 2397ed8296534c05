/**
 * Lambda entry for the SageMaker adapter (Function URL, AWS_IAM auth, RESPONSE_STREAM invoke mode).
 * Wiring only: config, SDK client, logger; the logic lives in core/ and adapters/sagemaker/.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { loadSagemakerConfig } from '../config';
import { AdapterError } from '../core/errors';
import { handleInvoke } from '../core/handle-invoke';
import { sagemakerInvoker } from '../adapters/sagemaker/invoke';

const config = loadSagemakerConfig();
const logger = new Logger({ serviceName: 'sagemaker-adapter' });
// Created once per execution environment so its connection pool is reused across invocations.
const client = new SageMakerRuntimeClient({
  region: config.region,
  maxAttempts: 1,
  ...(config.runtimeEndpoint ? { endpoint: config.runtimeEndpoint } : {}),
});
const invoke = sagemakerInvoker(client, config);

export const handler = awslambda.streamifyResponse(async (event: LambdaFunctionURLEvent, responseStream) => {
  const started = performance.now();
  const requestId = event.headers['x-request-id'];
  const res = await handleInvoke(event, {
    invoke,
    onError: (err, req) =>
      logger.warn('invoke failed', {
        request_id: req?.request_id ?? requestId,
        tenant_id: req?.tenant_id,
        model: req?.model,
        error_name: err instanceof Error ? err.name : typeof err,
        error_code: err instanceof AdapterError ? err.code : 'INTERNAL_ERROR',
        reason: err instanceof AdapterError ? err.reason : undefined,
        cause: err instanceof AdapterError && err.cause instanceof Error ? err.cause.name : undefined,
      }),
  });
  const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: res.statusCode, headers: res.headers });
  out.end(res.body);
  logger.info('invoke', { request_id: requestId, status: res.statusCode, latency_ms: Math.round(performance.now() - started) });
});
