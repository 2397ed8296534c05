/**
 * Adapter errors: each carries the public error code, the HTTP status the adapter answers with, a
 * machine-readable reason the edge can route on and, for transient failures, a Retry-After.
 * Messages are safe for clients; causes (SDK exceptions, container bodies) stay in logs.
 */
import type { BackendErrorDetails, BackendErrorObject } from '../../shared/contracts/backend';
import { REASON, type BackendReason } from '../../shared/contracts/boundary';
import type { ErrorCode } from '../../shared/errors';

/** Optional parts of an adapter error. */
export interface AdapterErrorOptions {
  readonly retryAfterSeconds?: number;
  /** A machine-readable reason the edge can route on, e.g. `no_capacity`, `model_not_ready`. */
  readonly reason?: BackendReason;
  /** The status the upstream (container, SageMaker, ALB) answered with, when there was one. */
  readonly upstreamStatus?: number;
  readonly cause?: unknown;
}

/** Base class: code + status + optional reason / Retry-After. */
export class AdapterError extends Error {
  override readonly name: string = 'AdapterError';
  readonly retryAfterSeconds: number | undefined;
  readonly reason: BackendReason | undefined;
  readonly upstreamStatus: number | undefined;

  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    options: AdapterErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.reason = options.reason;
    this.upstreamStatus = options.upstreamStatus;
  }

  /** The envelope's error object: code, message and the details a client or the edge acts on. */
  toErrorObject(): BackendErrorObject {
    const details: BackendErrorDetails = {};
    if (this.reason !== undefined) details.reason = this.reason;
    if (this.retryAfterSeconds !== undefined) details.retry_after = this.retryAfterSeconds;
    if (this.upstreamStatus !== undefined) details.upstream_status = this.upstreamStatus;
    return { code: this.code, message: this.message, ...(Object.keys(details).length > 0 ? { details } : {}) };
  }
}

/** The request is wrong: a bad invoke payload, or the model rejected the input. */
export class BadRequestError extends AdapterError {
  override readonly name = 'BadRequestError';
  constructor(message: string, options?: AdapterErrorOptions, status: 400 | 405 | 413 = 400) {
    super('INVALID_INPUT', status, message, options);
  }
}

/** No such route or model on this adapter. */
export class NotFoundError extends AdapterError {
  override readonly name = 'NotFoundError';
  constructor(message: string, options?: AdapterErrorOptions) {
    super('NOT_FOUND', 404, message, options);
  }
}

/** The model container or the service in front of it failed (502) or is not available yet (503). */
export class UpstreamError extends AdapterError {
  override readonly name = 'UpstreamError';
  constructor(status: 502 | 503, message: string, options?: AdapterErrorOptions) {
    super('UPSTREAM_ERROR', status, message, options);
  }
}

/** The backend throttled us or is overloaded. */
export class ThrottledError extends AdapterError {
  override readonly name = 'ThrottledError';
  constructor(message: string, options?: AdapterErrorOptions) {
    super('RATE_LIMITED', 429, message, options);
  }
}

/** The backend did not answer (or stopped answering) in time. */
export class UpstreamTimeoutError extends AdapterError {
  override readonly name = 'UpstreamTimeoutError';
  constructor(message: string, options?: AdapterErrorOptions) {
    super('TIMEOUT', 504, message, options);
  }
}

/**
 * The caller (the edge) went away before the answer was complete. Never sent to anyone; status 499
 * (the de-facto "client closed request") keeps it apart from real failures in logs and metrics.
 */
export class ClientClosedError extends AdapterError {
  override readonly name = 'ClientClosedError';
  constructor(options?: AdapterErrorOptions) {
    super('INTERNAL_ERROR', 499, 'the caller closed the connection', { reason: REASON.client_closed, ...options });
  }
}

/** Anything unexpected, hidden behind a generic message. */
export class InternalAdapterError extends AdapterError {
  override readonly name = 'InternalAdapterError';
  constructor(options?: AdapterErrorOptions) {
    super('INTERNAL_ERROR', 500, 'the adapter failed unexpectedly', options);
  }
}

/** `err` as an AdapterError: itself, or an InternalAdapterError caused by it. */
export function asAdapterError(err: unknown): AdapterError {
  return err instanceof AdapterError ? err : new InternalAdapterError({ cause: err });
}

/**
 * A container or service message made safe to show a client: JSON error bodies unwrapped, URLs,
 * ARNs, account ids and IP addresses removed, control characters and whitespace collapsed, length
 * capped. Returns undefined when nothing useful is left.
 */
export function sanitiseUpstreamMessage(raw: string | undefined, maxLength = 200): string | undefined {
  if (raw === undefined) return undefined;
  let text = raw.trim();
  try {
    const parsed: unknown = JSON.parse(text);
    const found = messageOf(parsed);
    if (found !== undefined) text = found;
  } catch {
    // Not JSON: use the text as it is.
  }
  const cleaned = text
    .replace(/https?:\/\/\S+/gi, '')
    .replace(/arn:aws[a-z-]*:\S+/gi, '')
    .replace(/\b\d{12}\b/g, '')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, '')
    .replace(/\bat \S+\.(?:py|ts|js|rs):\d+\S*/g, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (cleaned === '') return undefined;
  return cleaned.length > maxLength ? `${cleaned.slice(0, maxLength - 1)}…` : cleaned;
}

function messageOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const key of ['message', 'error', 'detail', 'Message']) {
    const inner = (value as Record<string, unknown>)[key];
    const found = messageOf(inner);
    if (found !== undefined) return found;
  }
  return undefined;
}
