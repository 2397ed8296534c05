/**
 * The edge's one error type. Handlers and middleware throw it; `app.onError` turns it (and anything
 * else) into the envelope of shared/errors.ts.
 */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DEFAULT_STATUS, type ErrorCode } from '../shared/errors';

export interface ApiErrorOptions {
  /** HTTP status; defaults to the code's usual one. */
  readonly status?: ContentfulStatusCode;
  readonly details?: Record<string, unknown>;
  /** Extra response headers, e.g. `Retry-After`. */
  readonly headers?: Record<string, string>;
  readonly cause?: unknown;
}

/** An expected failure with its public code and a message safe to show a client. */
export class ApiError extends HTTPException {
  override readonly name = 'ApiError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions = {}) {
    super(options.status ?? (DEFAULT_STATUS[code] as ContentfulStatusCode), { message, cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

/** Maps a bare HTTP status (from a Hono built-in) to the closest public code. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 504) return 'TIMEOUT';
  if (status === 502 || status === 503) return 'UPSTREAM_ERROR';
  if (status >= 400 && status < 500) return 'INVALID_INPUT';
  return 'INTERNAL_ERROR';
}
