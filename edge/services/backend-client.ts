/**
 * Calls a backend adapter's Function URL, SigV4-signed for the `lambda` service (sigv4.ts), and
 * turns its answer into a typed result, a typed event stream, or an ApiError. No upstream body ever
 * reaches a client: only codes and messages the adapter chose for clients.
 */
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  BackendErrorSchema,
  BackendInferResponseSchema,
  parseBackendStreamEvent,
  type BackendInferRequestInput,
  type BackendInferResponse,
  type BackendStreamEvent,
} from '../../shared/contracts/backend';
import { INVOKE_PATH, REASON, REQUEST_ID_HEADER, isEventStream } from '../../shared/contracts/boundary';
import { traceHeaders, type TraceContext } from '../../shared/contracts/trace';
import { SseParser } from '../../shared/sse';
import { ApiError } from '../errors';
import type { Config } from '../env';
import type { Backend } from './route-table';
import { signerFor } from './sigv4';

/** The isolate's SigV4 signer for Function URL calls (service `lambda`) with these credentials. */
export const lambdaSigner = (aws: Config['aws']) => signerFor(aws, aws.region, 'lambda');

export interface InvokeOptions {
  readonly aws: Config['aws'];
  /** Bound of the whole call; omit when `signal` carries the caller's own timers. */
  readonly timeoutMs?: number;
  /**
   * Aborts the call (client gone, deadline passed). Aborted with an ApiError as its reason, that
   * error is what the call throws (or the stream's final event), so callers can say why.
   */
  readonly signal?: AbortSignal;
  /** The trace context the adapter continues (`traceparent` / `tracestate`). */
  readonly trace?: TraceContext | undefined;
}

/** `details.reason` when the client went away before the backend answered. */
export const CANCELLED = 'cancelled';

/** The error a call aborted through `signal` ends with. */
function abortError(backend: Backend, signal: AbortSignal, cause?: unknown): ApiError {
  if (signal.reason instanceof ApiError) return signal.reason;
  return new ApiError('UPSTREAM_ERROR', 'request cancelled', { status: 503, details: { reason: CANCELLED, backend: backend.name }, cause });
}

async function post(backend: Backend, payload: BackendInferRequestInput, options: InvokeOptions): Promise<Response> {
  const url = new URL(INVOKE_PATH, backend.url).toString();
  const timeout = options.timeoutMs !== undefined ? AbortSignal.timeout(options.timeoutMs) : undefined;
  const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  try {
    return await lambdaSigner(options.aws).fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: payload.request_id, ...(options.trace ? traceHeaders(options.trace) : {}) },
      body: JSON.stringify(payload),
      signal,
    });
  } catch (err) {
    if (timeout?.aborted)
      throw new ApiError('TIMEOUT', `backend ${backend.name} did not answer within ${options.timeoutMs} ms`, {
        details: { reason: REASON.timeout },
        cause: err,
      });
    if (options.signal?.aborted) throw abortError(backend, options.signal, err);
    throw unreachable(backend, err);
  }
}

/** A backend the call could not reach: 503, retried by the routing policy (the adapter's own word for a model service it cannot reach). */
function unreachable(backend: Backend, cause: unknown): ApiError {
  return new ApiError('UPSTREAM_ERROR', `backend ${backend.name} is unreachable`, {
    status: 503,
    details: { reason: REASON.unreachable },
    headers: { 'Retry-After': '1' },
    cause,
  });
}

/**
 * A signed JSON POST to one of the adapter's other paths (the Responses relay, embeddings) on an
 * attempt's `signal`. Throws the signal's ApiError when it was aborted with one, else the 503 of an
 * unreachable backend; the caller reads the response.
 */
export async function postToAdapter(
  backend: Backend,
  path: string,
  payload: { readonly request_id: string },
  options: { readonly aws: Config['aws']; readonly signal: AbortSignal; readonly trace?: TraceContext | undefined },
): Promise<Response> {
  try {
    return await lambdaSigner(options.aws).fetch(new URL(path, backend.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: payload.request_id, ...(options.trace ? traceHeaders(options.trace) : {}) },
      body: JSON.stringify(payload),
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal.aborted && options.signal.reason instanceof ApiError) throw options.signal.reason;
    throw unreachable(backend, err);
  }
}

/** Runs one non-streaming inference on `backend`. Throws ApiError on every failure. */
export async function invokeBackend(backend: Backend, payload: BackendInferRequestInput, options: InvokeOptions): Promise<BackendInferResponse> {
  const response = await post(backend, { ...payload, stream: false }, options);
  const body = await response.json().catch(() => undefined);
  if (options.signal?.aborted) throw abortError(backend, options.signal);
  if (response.ok) {
    const parsed = BackendInferResponseSchema.safeParse(body);
    if (parsed.success) return parsed.data;
    throw new ApiError('UPSTREAM_ERROR', `backend ${backend.name} returned an invalid response`);
  }
  throw backendFailure(backend, response, body);
}

/**
 * Starts a streaming inference. Failures before the first event throw ApiError (so the client still
 * gets a proper status); afterwards every problem arrives as a final `error` event.
 */
export async function streamBackend(
  backend: Backend,
  payload: BackendInferRequestInput,
  options: InvokeOptions,
): Promise<AsyncGenerator<BackendStreamEvent, void, undefined>> {
  const response = await post(backend, { ...payload, stream: true }, options);
  if (!response.ok || !isEventStream(response.headers.get('content-type')) || !response.body) {
    const body = await response.json().catch(() => undefined);
    if (options.signal?.aborted) throw abortError(backend, options.signal);
    throw backendFailure(backend, response, body, response.ok);
  }
  return readEvents(backend, response.body, options.signal);
}

async function* readEvents(backend: Backend, body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<BackendStreamEvent, void, undefined> {
  const parser = new SseParser();
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const interrupted = (): BackendStreamEvent => {
    // Aborted on purpose (a timeout of the edge): say so rather than blaming the backend.
    if (signal?.aborted && signal.reason instanceof ApiError) return { event: 'error', data: { code: signal.reason.code, message: signal.reason.message } };
    return { event: 'error', data: { code: 'UPSTREAM_ERROR', message: `backend ${backend.name} interrupted the stream` } };
  };
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch {
        yield interrupted();
        return;
      }
      const messages = chunk.done ? parser.end() : parser.push(chunk.value);
      for (const message of messages) {
        const event = parseBackendStreamEvent(message);
        if (!event) {
          yield { event: 'error', data: { code: 'UPSTREAM_ERROR', message: `backend ${backend.name} sent an invalid stream event` } };
          return;
        }
        yield event;
        if (event.event !== 'token') return;
      }
      if (chunk.done) {
        yield interrupted();
        return;
      }
    }
  } finally {
    // Runs on normal end and when the consumer stops early (client gone): release the upstream.
    await reader.cancel().catch(() => {});
  }
}

/** Maps an adapter's error answer to an ApiError, keeping its code and Retry-After but no raw body. */
export function backendFailure(backend: Backend, response: Response, body: unknown, wrongShape = false): ApiError {
  const retryAfter = response.headers.get('retry-after');
  const headers: Record<string, string> = retryAfter && /^\d{1,5}$/.test(retryAfter) ? { 'Retry-After': retryAfter } : {};
  const parsed = BackendErrorSchema.safeParse(body);
  if (!wrongShape && parsed.success && response.status >= 400 && response.status < 600) {
    const { code, message, details } = parsed.data.error;
    return new ApiError(code, message, { status: response.status as ContentfulStatusCode, details, headers });
  }
  // Function URL auth failures, wrong content types and anything unparseable: a gateway problem.
  return new ApiError('UPSTREAM_ERROR', `backend ${backend.name} failed (HTTP ${response.status})`, { status: 502, headers });
}
