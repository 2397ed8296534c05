/**
 * Where an adapter writes its answer: status and headers once, then body bytes with backpressure.
 * The Lambda wiring implements it over `awslambda.HttpResponseStream`; tests collect into memory.
 */
import type { BackendError } from '../../shared/contracts/backend';
import type { AdapterError } from './errors';

/** The answer of one invocation: status and headers, then body bytes. */
export interface ResponseSink {
  /** True once `start` was called (the status line is committed). */
  readonly started: boolean;
  /** True once `end` was called. */
  readonly ended: boolean;
  /** Commits status and headers; called once, before any body byte. */
  start(statusCode: number, headers: Readonly<Record<string, string>>): void;
  /** Writes body bytes; resolves when more may be written; rejects with ClientClosedError when the caller is gone. */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the body (with a last chunk); resolves when flushed, or at once when the caller is gone. */
  end(chunk?: Uint8Array): Promise<void>;
}

const encoder = new TextEncoder();

/** Headers of every JSON answer. */
export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

/** Writes a whole JSON answer. */
export async function writeJson(sink: ResponseSink, statusCode: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Promise<void> {
  sink.start(statusCode, { ...JSON_HEADERS, ...headers });
  await sink.end(encoder.encode(JSON.stringify(body)));
}

/** Writes an error as status + `{error}` (BackendError), with Retry-After when the error has one. */
export async function writeError(sink: ResponseSink, error: AdapterError): Promise<void> {
  const body: BackendError = { error: error.toErrorObject() };
  const headers: Record<string, string> = error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : {};
  await writeJson(sink, error.status, body, headers);
}
