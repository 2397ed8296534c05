/**
 * SageMaker runtime exceptions → adapter errors with public codes. Container messages are not passed
 * through verbatim (they may echo prompts or internals); the original status is kept as a detail.
 */
import {
  InternalDependencyException,
  InternalFailure,
  ModelError,
  ModelNotReadyException,
  ServiceUnavailable,
  ValidationError,
} from '@aws-sdk/client-sagemaker-runtime';
import { AdapterError, BadRequestError, ThrottledError, UpstreamError, UpstreamTimeoutError } from '../../core/errors';

/** Seconds a client should wait before retrying a warming or overloaded endpoint. */
export const WARMING_RETRY_AFTER_S = 30;
export const OVERLOAD_RETRY_AFTER_S = 5;

const isAbort = (err: unknown) => err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');

/** Maps anything the SageMaker client threw to an AdapterError. */
export function mapSagemakerError(err: unknown, endpointName: string): AdapterError {
  if (err instanceof AdapterError) return err;
  if (isAbort(err)) return new UpstreamTimeoutError(`endpoint ${endpointName} did not answer in time`, { cause: err });
  if (err instanceof ModelError) {
    const status = err.OriginalStatusCode;
    return new UpstreamError(502, `the model container failed${status ? ` (status ${status})` : ''}`, { reason: 'model_error', cause: err });
  }
  if (err instanceof ValidationError) {
    if (/capacity|no instances|scaled? (down|to zero)/i.test(err.message)) {
      return new UpstreamError(503, `endpoint ${endpointName} has no capacity yet; it is warming up`, { retryAfterSeconds: WARMING_RETRY_AFTER_S, reason: 'no_capacity', cause: err });
    }
    return new BadRequestError('the model rejected the request as invalid', { reason: 'validation', cause: err });
  }
  if (err instanceof ModelNotReadyException) {
    return new UpstreamError(503, `endpoint ${endpointName} is not ready; it is warming up`, { retryAfterSeconds: WARMING_RETRY_AFTER_S, reason: 'model_not_ready', cause: err });
  }
  if (err instanceof ServiceUnavailable) {
    return new UpstreamError(503, `endpoint ${endpointName} is unavailable`, { retryAfterSeconds: OVERLOAD_RETRY_AFTER_S, reason: 'unavailable', cause: err });
  }
  if (err instanceof InternalFailure || err instanceof InternalDependencyException) {
    return new UpstreamError(502, `SageMaker failed to serve endpoint ${endpointName}`, { reason: 'internal_failure', cause: err });
  }
  const name = err instanceof Error ? err.name : '';
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (name === 'ThrottlingException' || status === 429) {
    return new ThrottledError(`endpoint ${endpointName} is throttling requests`, { retryAfterSeconds: OVERLOAD_RETRY_AFTER_S, reason: 'throttled', cause: err });
  }
  if (status === undefined) {
    // No HTTP answer at all: connection refused, DNS, TLS.
    return new UpstreamError(503, `endpoint ${endpointName} is unreachable`, { retryAfterSeconds: 1, reason: 'unreachable', cause: err });
  }
  return new UpstreamError(502, `endpoint ${endpointName} failed (HTTP ${status})`, { reason: 'unexpected', cause: err });
}
