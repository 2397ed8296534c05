/**
 * What crosses the edge ↔ backend boundary besides the payloads of ./backend.ts: the adapters' one
 * route, the headers both sides set or read, the headers of a streamed answer, and the reasons an
 * adapter gives in `details.reason`. Declared here once; the edge, the adapters and the local tools
 * import them, so the two sides cannot drift apart.
 */
import * as z from 'zod';

/** Path on every adapter's Function URL that runs one inference (`POST`). */
export const INVOKE_PATH = '/invoke';

/** Header carrying the edge's request id to an adapter or a forward target, so their logs join the edge's. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * Most bytes of a payload the edge POSTs to an adapter: a Lambda Function URL takes at most 6 MB
 * (6,291,556 bytes) per synchronous invocation, event envelope included, so this keeps room for it.
 */
export const MAX_INVOKE_PAYLOAD_BYTES = 6_000_000;

const EVENT_STREAM = 'text/event-stream';

/**
 * Headers of every streamed answer: an adapter's to the edge and the edge's to its client. SSE is
 * UTF-8 by definition; `no-cache, no-transform` keeps caches and compressing proxies (CloudFront,
 * Cloudflare) from holding events back; `x-accel-buffering: no` does the same for nginx-style
 * proxies in front of either side.
 */
export const SSE_HEADERS = {
  'content-type': `${EVENT_STREAM}; charset=utf-8`,
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
} as const;

/** True when `contentType` names an SSE stream, whatever its parameters (`charset`) or case. */
export function isEventStream(contentType: string | null | undefined): boolean {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase() === EVENT_STREAM;
}

/**
 * Every `details.reason` an adapter can answer with (the table in backend/README.md). The edge's
 * routing policy acts on some of them: `no_capacity` holds the backend until its Retry-After (one
 * request triggers the scale-out), `model_not_ready` falls back without blaming the backend,
 * `unreachable` is retried. The rest are for clients and logs.
 */
const BACKEND_REASONS = [
  // Not available right now: transient, with Retry-After.
  'no_capacity',
  'model_not_ready',
  'unavailable',
  'unreachable',
  'model_overloaded',
  'throttled',
  // Too slow.
  'timeout',
  'first_token_timeout',
  'idle_timeout',
  'model_timeout',
  // The request's own fault: another backend would say the same.
  'model_rejected_input',
  'validation',
  'unknown_model',
  // The model or its service failed.
  'model_error',
  'model_stream_error',
  'internal_stream_failure',
  'internal_failure',
  'stream_truncated',
  'bad_response',
  'endpoint_not_found',
  'model_not_found',
  'upstream_auth',
  'unexpected',
  // The caller (the edge) left: logged by the adapter, never sent.
  'client_closed',
] as const;

/** A reason an adapter gives, as a schema: what a contract test checks every answer against. */
export const BackendReasonSchema = z.enum(BACKEND_REASONS);

/** A reason an adapter gives. */
export type BackendReason = z.infer<typeof BackendReasonSchema>;

/** The reasons by name (`REASON.no_capacity`), for building and comparing them without a string copy. */
export const REASON = BackendReasonSchema.enum;
