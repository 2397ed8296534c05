/**
 * Ambient types of the `awslambda` global the Lambda Node.js runtime installs, so handlers
 * compile with `awslambda.streamifyResponse(...)` and `awslambda.HttpResponseStream.from(...)`.
 *
 * @types/aws-lambda already declares a global `namespace awslambda` (class HttpResponseStream,
 * function streamifyResponse); a `var awslambda` beside it would be a duplicate identifier, so
 * this file merges into that namespace instead: it adds the runtime's `options` argument
 * (`highWaterMark`), a typed prelude, and documents how a handler sees a client disconnect.
 * Locally the same global comes from tools/lambda-host (runtime-shim.ts).
 */
import type { Context } from 'aws-lambda';

declare global {
  namespace awslambda {
    /** Options the runtime's `streamifyResponse(handler, options)` reads. */
    interface StreamifyResponseOptions {
      /** High-water mark of the response stream, in bytes. */
      highWaterMark?: number;
    }

    /**
     * The JSON prelude `HttpResponseStream.from` writes before the body: the HTTP status,
     * headers and cookies a Function URL returns (cookies become `set-cookie` headers).
     */
    interface HttpResponseStreamPrelude {
      statusCode?: number;
      headers?: Record<string, string>;
      cookies?: string[];
    }

    /**
     * A streaming handler. `responseStream` is a Node Writable: bytes reach the client as they
     * are written, with backpressure; `pipeline(source, responseStream)` works.
     *
     * Client disconnects: in AWS the function keeps running (and is billed) after the client
     * goes away; nothing is signalled. The local host destroys `responseStream` with an error
     * instead, so a handler written portably observes it with
     * `finished(responseStream, (err) => err && controller.abort(err))` (node:stream) and passes
     * `controller.signal` to its upstream calls: in AWS that callback only fires on a real
     * stream failure, locally it also fires on disconnect.
     */
    type StreamingHandler<TEvent = unknown> = (event: TEvent, responseStream: HttpResponseStream, context: Context) => Promise<void>;

    /** Marks `handler` for the streaming invoke path (RESPONSE_STREAM Function URLs). */
    function streamifyResponse<TEvent = unknown>(handler: StreamingHandler<TEvent>, options?: StreamifyResponseOptions): StreamingHandler<TEvent>;
  }
}
