/**
 * HTTP failures of the ECS service (vLLM / TGI behind an internal ALB) → adapter errors with public
 * codes, the same classes and reasons the SageMaker adapter uses (table in backend/README.md).
 */
import { REASON } from '../../../shared/contracts/boundary';
import type { ErrorPhase } from '../../core/backend';
import { AdapterError, BadRequestError, ThrottledError, UpstreamError, UpstreamTimeoutError, sanitiseUpstreamMessage } from '../../core/errors';

/** Seconds a client should wait before retrying, when the service does not say. */
export const RETRY_AFTER_S = { warming: 30, overloaded: 5, unreachable: 1 } as const;

/** The service answered with an error status; `body` is its (capped) error body, for mapping and logs. */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  constructor(
    readonly status: number,
    readonly retryAfter: string | null,
    readonly body: string,
  ) {
    super(`HTTP ${status}: ${body.slice(0, 300)}`);
  }
}

const WARMING = /load|warm|not ready|starting|initiali[sz]/i;

function retryAfterOf(err: HttpStatusError, fallback: number): number {
  return err.retryAfter !== null && /^\d{1,5}$/.test(err.retryAfter) ? Number(err.retryAfter) : fallback;
}

function mapStatus(err: HttpStatusError, target: string): AdapterError {
  const { status } = err;
  const base = { upstreamStatus: status, cause: err };
  if (status === 400 || status === 413 || status === 422) {
    const why = sanitiseUpstreamMessage(err.body);
    return new BadRequestError(
      `the model rejected the request${why ? `: ${why}` : ''}`,
      { ...base, reason: REASON.model_rejected_input },
      status === 413 ? 413 : 400,
    );
  }
  if (status === 429)
    return new ThrottledError(`the model service ${target} is overloaded`, {
      ...base,
      reason: REASON.model_overloaded,
      retryAfterSeconds: retryAfterOf(err, RETRY_AFTER_S.overloaded),
    });
  if (status === 503) {
    const warming = WARMING.test(err.body);
    return new UpstreamError(503, warming ? `the model service ${target} is warming up` : `the model service ${target} is unavailable`, {
      ...base,
      reason: warming ? REASON.model_not_ready : REASON.unavailable,
      retryAfterSeconds: retryAfterOf(err, warming ? RETRY_AFTER_S.warming : RETRY_AFTER_S.overloaded),
    });
  }
  if (status === 408 || status === 504) return new UpstreamTimeoutError(`the model service ${target} timed out`, { ...base, reason: REASON.timeout });
  if (status === 404) return new UpstreamError(502, `the model service ${target} does not serve this model`, { ...base, reason: REASON.model_not_found });
  if (status === 401 || status === 403)
    return new UpstreamError(502, `the model service ${target} refused the adapter`, { ...base, reason: REASON.upstream_auth });
  if (status >= 500) return new UpstreamError(502, `the model service ${target} failed (status ${status})`, { ...base, reason: REASON.model_error });
  return new UpstreamError(502, `the model service ${target} answered HTTP ${status}`, { ...base, reason: REASON.unexpected });
}

/**
 * Maps anything fetch or the response body threw to an AdapterError; `phase` says whether the
 * answer had begun (a dropped connection mid-stream is a broken stream, not an unreachable service).
 */
export function mapEcsError(err: unknown, target: string, phase: ErrorPhase = 'request'): AdapterError {
  if (err instanceof AdapterError) return err;
  if (err instanceof HttpStatusError) return mapStatus(err, target);
  if (err instanceof Error && err.name === 'TimeoutError')
    return new UpstreamTimeoutError(`the model service ${target} did not answer in time`, { reason: REASON.timeout, cause: err });
  if (phase === 'stream' || (err instanceof TypeError && err.message === 'terminated')) {
    // The connection dropped after the answer began (undici's error for a cut body).
    return new UpstreamError(502, `the model stream from ${target} broke`, { reason: REASON.model_stream_error, cause: err });
  }
  if (err instanceof TypeError) {
    // `fetch failed`: refused, reset, DNS, TLS — no HTTP answer at all.
    return new UpstreamError(503, `the model service ${target} is unreachable`, {
      reason: REASON.unreachable,
      retryAfterSeconds: RETRY_AFTER_S.unreachable,
      cause: err,
    });
  }
  return new UpstreamError(502, `the model service ${target} failed`, { reason: REASON.unexpected, cause: err });
}
