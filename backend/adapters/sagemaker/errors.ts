/**
 * SageMaker runtime exceptions → adapter errors with public codes (the table is in backend/README.md).
 * Container messages pass through only for client-side container errors (4xx: the input was
 * refused, and the client can act on why), sanitised; server-side ones stay in logs.
 */
import {
  InternalDependencyException,
  InternalFailure,
  InternalStreamFailure,
  ModelError,
  ModelNotReadyException,
  ModelStreamError,
  ServiceUnavailable,
  ValidationError,
} from '@aws-sdk/client-sagemaker-runtime';
import { REASON } from '../../../shared/contracts/boundary';
import type { ErrorPhase } from '../../core/backend';
import { AdapterError, BadRequestError, ThrottledError, UpstreamError, UpstreamTimeoutError, sanitiseUpstreamMessage } from '../../core/errors';

/** Seconds a client should wait before retrying, when SageMaker does not say. */
export const RETRY_AFTER_S = { warming: 30, overloaded: 5, unreachable: 1 } as const;

interface HttpInfo {
  status: number | undefined;
  retryAfter: number | undefined;
}

/** Status and Retry-After of the HTTP answer behind an SDK exception (`$metadata`, `$response`). */
function httpInfo(err: unknown): HttpInfo {
  if (typeof err !== 'object' || err === null) return { status: undefined, retryAfter: undefined };
  const meta = (err as { $metadata?: { httpStatusCode?: number } }).$metadata;
  const headers = (err as { $response?: { headers?: Record<string, string | undefined> } }).$response?.headers;
  const raw = headers?.['retry-after'];
  const retryAfter = raw !== undefined && /^\d{1,5}$/.test(raw) ? Number(raw) : undefined;
  return { status: meta?.httpStatusCode, retryAfter };
}

const NO_CAPACITY = /no capacity|capacity to process|no instances|scaled? (down|to zero)/i;
const NOT_FOUND = /(endpoint|inference component|variant)\b.*\b(not found|does not exist)|could not find/i;

/** A ModelError (the container answered an error status) by the container's status. */
function mapModelError(err: ModelError, endpointName: string): AdapterError {
  const status = err.OriginalStatusCode;
  const { retryAfter } = httpInfo(err);
  const details = { upstreamStatus: status, cause: err };
  if (status === 429)
    return new ThrottledError(`endpoint ${endpointName} is overloaded`, {
      ...details,
      reason: REASON.model_overloaded,
      retryAfterSeconds: retryAfter ?? RETRY_AFTER_S.overloaded,
    });
  if (status === 503)
    return new UpstreamError(503, `the model on endpoint ${endpointName} is not ready`, {
      ...details,
      reason: REASON.model_not_ready,
      retryAfterSeconds: retryAfter ?? RETRY_AFTER_S.warming,
    });
  if (status === 408) return new UpstreamTimeoutError(`the model on endpoint ${endpointName} timed out`, { ...details, reason: REASON.model_timeout });
  if (status !== undefined && status >= 400 && status < 500) {
    const why = sanitiseUpstreamMessage(err.OriginalMessage);
    return new BadRequestError(
      `the model rejected the request${why ? `: ${why}` : ''}`,
      { ...details, reason: REASON.model_rejected_input },
      status === 413 ? 413 : 400,
    );
  }
  return new UpstreamError(502, `the model container failed${status ? ` (status ${status})` : ''}`, { ...details, reason: REASON.model_error });
}

/**
 * Maps anything the SageMaker client threw to an AdapterError; `phase` says whether the answer had
 * begun (a dropped connection mid-stream is a broken stream, not an unreachable endpoint).
 */
export function mapSagemakerError(err: unknown, endpointName: string, phase: ErrorPhase = 'request'): AdapterError {
  if (err instanceof AdapterError) return err;
  const { status, retryAfter } = httpInfo(err);
  if (err instanceof ModelError) return mapModelError(err, endpointName);
  if (err instanceof ModelStreamError) {
    if (err.ErrorCode === 'ModelInvocationTimeExceeded')
      return new UpstreamTimeoutError(`the model on endpoint ${endpointName} exceeded its invocation time`, { reason: REASON.model_timeout, cause: err });
    return new UpstreamError(502, `the model stream from endpoint ${endpointName} broke`, { reason: REASON.model_stream_error, cause: err });
  }
  if (err instanceof InternalStreamFailure)
    return new UpstreamError(502, `SageMaker failed while streaming from endpoint ${endpointName}`, { reason: REASON.internal_stream_failure, cause: err });
  if (err instanceof ValidationError) {
    if (NO_CAPACITY.test(err.message)) {
      return new UpstreamError(503, `endpoint ${endpointName} has no capacity yet; it is scaling up`, {
        retryAfterSeconds: retryAfter ?? RETRY_AFTER_S.warming,
        reason: REASON.no_capacity,
        upstreamStatus: status,
        cause: err,
      });
    }
    if (NOT_FOUND.test(err.message))
      return new UpstreamError(502, `endpoint ${endpointName} is not deployed as configured`, {
        reason: REASON.endpoint_not_found,
        upstreamStatus: status,
        cause: err,
      });
    return new BadRequestError('SageMaker rejected the request as invalid', { reason: REASON.validation, upstreamStatus: status, cause: err });
  }
  if (err instanceof ModelNotReadyException) {
    return new UpstreamError(503, `endpoint ${endpointName} is not ready; it is warming up`, {
      retryAfterSeconds: retryAfter ?? RETRY_AFTER_S.warming,
      reason: REASON.model_not_ready,
      upstreamStatus: status,
      cause: err,
    });
  }
  if (err instanceof ServiceUnavailable) {
    return new UpstreamError(503, `endpoint ${endpointName} is unavailable`, {
      retryAfterSeconds: retryAfter ?? RETRY_AFTER_S.overloaded,
      reason: REASON.unavailable,
      upstreamStatus: status,
      cause: err,
    });
  }
  if (err instanceof InternalFailure || err instanceof InternalDependencyException) {
    return new UpstreamError(502, `SageMaker failed to serve endpoint ${endpointName}`, {
      reason: REASON.internal_failure,
      upstreamStatus: status,
      cause: err,
    });
  }
  const name = err instanceof Error ? err.name : '';
  if (name === 'ThrottlingException' || status === 429) {
    return new ThrottledError(`endpoint ${endpointName} is throttling requests`, {
      retryAfterSeconds: retryAfter ?? RETRY_AFTER_S.overloaded,
      reason: REASON.throttled,
      upstreamStatus: status,
      cause: err,
    });
  }
  if (name === 'TimeoutError' || (err as { code?: string } | null)?.code === 'ETIMEDOUT') {
    return new UpstreamTimeoutError(`endpoint ${endpointName} did not answer in time`, { reason: REASON.timeout, cause: err });
  }
  // A 2xx status means the answer had begun even while the SDK was still reading its first bytes:
  // a connection dropped then is a broken stream too, not a failure "with HTTP 200".
  const answerBegun = status === undefined ? phase === 'stream' : status >= 200 && status < 300;
  if (answerBegun) {
    return new UpstreamError(502, `the model stream from endpoint ${endpointName} broke`, { reason: REASON.model_stream_error, cause: err });
  }
  if (status === undefined) {
    // No HTTP answer at all: connection refused or reset, DNS, TLS.
    return new UpstreamError(503, `endpoint ${endpointName} is unreachable`, {
      retryAfterSeconds: RETRY_AFTER_S.unreachable,
      reason: REASON.unreachable,
      cause: err,
    });
  }
  return new UpstreamError(502, `endpoint ${endpointName} failed (HTTP ${status})`, { reason: REASON.unexpected, upstreamStatus: status, cause: err });
}
