/**
 * RESPONSE_STREAM invoke mode: hands the handler a {@link ResponseStream} whose bytes go to the
 * HTTP client as they are written. With the prelude content type, the bytes up to the 8 NUL
 * delimiter are the JSON `{statusCode, headers, cookies}` and become the status line and
 * headers; everything after is body. Backpressure flows from the socket to the handler.
 *
 * Failures: before the first byte the client gets the Function URL's 502; after it, the
 * connection is cut (an incomplete chunked body), which a client can tell from a clean end.
 * A client disconnect or a timeout destroys the response stream with an error, so writes and
 * `pipeline(...)` fail and `stream.finished(responseStream)` reports it. This is stricter than
 * AWS, where a disconnect is not signalled and the function runs on (billed) until it ends.
 */
import type { ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import type { Context } from 'aws-lambda';
import { normaliseCookies, normaliseHeaders } from './buffered';
import { ClientDisconnectedError, FunctionTimeoutError } from './context';
import { REQUEST_ID_HEADER, sendFunctionError } from './responses';
import { PRELUDE_CONTENT_TYPE, PRELUDE_DELIMITER_LENGTH, ResponseStream, type ResponseSink } from './runtime-shim';

/** Longest prelude accepted before the delimiter; a runaway prelude is a function error. */
const MAX_PRELUDE_BYTES = 64 * 1024;
const DELIMITER = Buffer.alloc(PRELUDE_DELIMITER_LENGTH);

type StreamingFn = (event: unknown, responseStream: ResponseStream, context: Context) => unknown;
type Callback = (error?: Error | null) => void;

/** Thrown when the prelude is not the JSON `HttpResponseStream.from` would write. */
export class InvalidPreludeError extends Error {
  override readonly name = 'InvalidPreludeError';
}

/** Sink that turns response-stream bytes into an HTTP response on `res`. */
export class HttpStreamWriter implements ResponseSink {
  #prelude: Buffer | null = null;
  #headersSent = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly requestId: string,
  ) {}

  /** True once the status line and headers went out. */
  get headersSent(): boolean {
    return this.#headersSent;
  }

  write(chunk: Buffer, stream: ResponseStream, callback: Callback): void {
    if (this.res.destroyed) {
      callback(new ClientDisconnectedError());
      return;
    }
    try {
      let body = chunk;
      if (!this.#headersSent) {
        if (stream.contentType !== PRELUDE_CONTENT_TYPE) {
          this.#sendHeaders(200, { 'content-type': stream.contentType }, []);
        } else {
          const buffered = this.#prelude ? Buffer.concat([this.#prelude, chunk]) : chunk;
          const end = buffered.indexOf(DELIMITER);
          if (end === -1) {
            if (buffered.length > MAX_PRELUDE_BYTES) throw new InvalidPreludeError('prelude delimiter not found');
            this.#prelude = buffered;
            callback();
            return;
          }
          this.#applyPrelude(buffered.subarray(0, end));
          body = buffered.subarray(end + PRELUDE_DELIMITER_LENGTH);
        }
      }
      this.#writeBody(body, callback);
    } catch (error) {
      callback(error instanceof Error ? error : new Error(String(error)));
    }
  }

  end(stream: ResponseStream, callback: Callback): void {
    if (this.res.destroyed) {
      callback(new ClientDisconnectedError());
      return;
    }
    if (!this.#headersSent) {
      if (stream.contentType === PRELUDE_CONTENT_TYPE) {
        callback(new InvalidPreludeError('stream ended inside the prelude'));
        return;
      }
      this.#sendHeaders(200, { 'content-type': stream.contentType }, []);
    }
    this.res.end(() => callback());
  }

  abort(): void {
    // The invocation decides what the client sees (see runStreamingInvocation).
  }

  #applyPrelude(bytes: Buffer): void {
    let prelude: unknown;
    try {
      prelude = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new InvalidPreludeError('prelude is not JSON');
    }
    if (typeof prelude !== 'object' || prelude === null || Array.isArray(prelude)) throw new InvalidPreludeError('prelude is not an object');
    const { statusCode = 200, headers: rawHeaders, cookies: rawCookies } = prelude as Record<string, unknown>;
    if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
      throw new InvalidPreludeError('prelude statusCode is not an HTTP status code');
    }
    const headers = normaliseHeaders(rawHeaders);
    if (typeof headers === 'string') throw new InvalidPreludeError(headers);
    const cookies = normaliseCookies(rawCookies);
    if (typeof cookies === 'string') throw new InvalidPreludeError(cookies);
    headers['content-type'] ??= 'application/octet-stream';
    this.#sendHeaders(statusCode, headers, cookies);
  }

  #sendHeaders(statusCode: number, headers: Record<string, string>, cookies: string[]): void {
    const all: Record<string, string | string[]> = { ...headers, [REQUEST_ID_HEADER]: this.requestId };
    if (cookies.length > 0) all['set-cookie'] = cookies;
    this.res.writeHead(statusCode, all);
    this.res.flushHeaders();
    this.#headersSent = true;
  }

  #writeBody(body: Buffer, callback: Callback): void {
    if (body.length === 0 || this.res.write(body)) {
      callback();
      return;
    }
    const onDrain = () => {
      this.res.off('close', onClose);
      callback();
    };
    const onClose = () => {
      this.res.off('drain', onDrain);
      callback(new ClientDisconnectedError());
    };
    this.res.once('drain', onDrain);
    this.res.once('close', onClose);
  }
}

/** Everything one streaming invocation needs. */
export interface StreamingInvocation {
  handler: StreamingFn;
  event: unknown;
  context: Context;
  res: ServerResponse;
  requestId: string;
  timeoutMs: number;
  highWaterMark?: number;
  /** Called once with the failure, for the host log. */
  onError: (error: unknown) => void;
}

/**
 * Runs a streaming handler against `res`. Resolves when the invocation is over: the handler
 * settled and the stream finished, or it failed, timed out or lost its client.
 */
export function runStreamingInvocation(inv: StreamingInvocation): Promise<void> {
  return new Promise<void>((resolve) => {
    const writer = new HttpStreamWriter(inv.res, inv.requestId);
    const stream = new ResponseStream(writer, inv.highWaterMark);
    let over = false;
    let handlerDone = false;
    let streamDone = false;

    const finish = () => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      inv.res.off('close', onClientClose);
      resolve();
    };
    const failInvocation = (error: unknown) => {
      if (over) return;
      inv.onError(error);
      if (!stream.destroyed) stream.destroy(error instanceof Error ? error : new Error(String(error)));
      if (writer.headersSent) inv.res.destroy();
      else sendFunctionError(inv.res, inv.requestId);
      finish();
    };
    const onClientClose = () => {
      if (over || inv.res.writableFinished) return;
      stream.destroy(new ClientDisconnectedError());
      finish();
    };
    const timer = setTimeout(() => failInvocation(new FunctionTimeoutError(inv.timeoutMs)), inv.timeoutMs);

    // The runtime listens for errors itself; without this an error event would crash the host.
    stream.on('error', () => {});
    finished(stream, (error) => {
      if (error) {
        failInvocation(error);
        return;
      }
      streamDone = true;
      if (handlerDone) finish();
    });
    inv.res.on('close', onClientClose);

    let returned: unknown;
    try {
      returned = inv.handler(inv.event, stream, inv.context);
    } catch (error) {
      failInvocation(error);
      return;
    }
    if (returned === null || typeof returned !== 'object' || typeof (returned as PromiseLike<unknown>).then !== 'function') {
      failInvocation(new Error('Streaming does not support non-async handlers.'));
      return;
    }
    Promise.resolve(returned).then(
      () => {
        handlerDone = true;
        // Like the runtime, wait for the stream to close after the handler returns (until the timeout).
        if (streamDone) finish();
      },
      (error: unknown) => failInvocation(error ?? new Error('Handler rejected')),
    );
  });
}
