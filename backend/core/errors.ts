/**
 * Adapter errors: each carries the public error code, the HTTP status the adapter answers with and,
 * for transient failures, a Retry-After. Messages are safe for clients; causes stay in logs.
 */
import type { ErrorCode } from '../../shared/errors';

export interface AdapterErrorOptions {
  readonly retryAfterSeconds?: number;
  /** A machine-readable reason the edge can route on, e.g. `no_capacity`. */
  readonly reason?: string;
  readonly cause?: unknown;
}

export class AdapterError extends Error {
  override readonly name: string = 'AdapterError';
  readonly retryAfterSeconds: number | undefined;
  readonly reason: string | undefined;

  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    options: AdapterErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.reason = options.reason;
  }
}

/** The request to the adapter itself is wrong (not the client's prompt). */
export class BadRequestError extends AdapterError {
  override readonly name = 'BadRequestError';
  constructor(message: string, options?: AdapterErrorOptions) {
    super('INVALID_INPUT', 400, message, options);
  }
}

/** The model container or the service in front of it failed. */
export class UpstreamError extends AdapterError {
  override readonly name = 'UpstreamError';
  constructor(status: 502 | 503, message: string, options?: AdapterErrorOptions) {
    super('UPSTREAM_ERROR', status, message, options);
  }
}

/** The backend throttled us. */
export class ThrottledError extends AdapterError {
  override readonly name = 'ThrottledError';
  constructor(message: string, options?: AdapterErrorOptions) {
    super('RATE_LIMITED', 429, message, options);
  }
}

/** The backend did not answer in time. */
export class UpstreamTimeoutError extends AdapterError {
  override readonly name = 'UpstreamTimeoutError';
  constructor(message: string, options?: AdapterErrorOptions) {
    super('TIMEOUT', 504, message, options);
  }
}
