/**
 * The parts of the Lambda Node.js runtime a streaming handler touches, reproduced from
 * aws-lambda-nodejs-runtime-interface-client: `awslambda.streamifyResponse` (marks the handler
 * with `Symbol.for('aws.lambda.runtime.handler.streaming')`), `awslambda.HttpResponseStream.from`
 * (installs an `_onBeforeFirstWrite` hook that writes the JSON prelude and 8 NUL bytes under
 * the content type `application/vnd.awslambda.http-integration-response`), and the response
 * stream itself: a Writable with `setContentType`, JSON-serialising non-byte chunks.
 */
import { Writable } from 'node:stream';

/** Marker property the runtime reads to pick the streaming invoke path. */
export const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
/** Optional per-handler high-water mark of the response stream. */
export const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
/** Value of {@link HANDLER_STREAMING} for response streaming. */
export const STREAM_RESPONSE = 'response';
/** Content type announcing "JSON prelude, 8 NUL bytes, then the body". */
export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
/** Length of the NUL delimiter after the prelude. */
export const PRELUDE_DELIMITER_LENGTH = 8;
/** Content type of a response stream nobody set one on. */
export const DEFAULT_STREAM_CONTENT_TYPE = 'application/octet-stream';

type WriteCallback = (error?: Error | null) => void;

/** Where a {@link ResponseStream} delivers bytes (the host's HTTP side). */
export interface ResponseSink {
  /** Accepts a chunk; calls back when it may take the next one (backpressure). */
  write(chunk: Buffer, stream: ResponseStream, callback: WriteCallback): void;
  /** The handler ended the stream. */
  end(stream: ResponseStream, callback: WriteCallback): void;
  /** The stream was destroyed; `error` is the reason, if any. */
  abort(error: Error | null): void;
}

/** Options of {@link streamifyResponse}, as the runtime accepts them. */
export interface StreamifyOptions {
  highWaterMark?: number;
}

/** The prelude `HttpResponseStream.from` writes: status, headers and cookies of the HTTP response. */
export interface HttpResponseMetadata {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
  [key: string]: unknown;
}

/**
 * The `responseStream` handed to a streaming handler. Bytes reach the sink as they are
 * written; `setContentType` must come before the first write, like in the runtime.
 */
export class ResponseStream extends Writable {
  /** Hook `HttpResponseStream.from` installs; runs once, right before the first write. */
  _onBeforeFirstWrite: ((write: (chunk: string | Uint8Array) => void) => void) | undefined;
  #contentType = DEFAULT_STREAM_CONTENT_TYPE;
  #writeCalled = false;
  #hookRan = false;
  #pending: Buffer[] = [];

  constructor(
    private readonly sink: ResponseSink,
    highWaterMark?: number,
  ) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
  }

  /** Content type announced to the Function URL front end. */
  get contentType(): string {
    return this.#contentType;
  }

  /** Sets the stream's content type; throws once writing has started ("too late"). */
  setContentType(contentType: string): void {
    if (this.#writeCalled) throw new Error('Cannot set content-type, too late.');
    this.#contentType = contentType;
  }

  override write(chunk: unknown, encodingOrCallback?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean {
    const data = typeof chunk === 'string' || chunk instanceof Uint8Array ? chunk : JSON.stringify(chunk);
    if (!this.#writeCalled) {
      this.#writeCalled = true;
      this.#runHook();
    }
    if (typeof encodingOrCallback === 'function') return super.write(data, encodingOrCallback);
    return super.write(data, encodingOrCallback ?? 'utf8', callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.#writeCalled = true;
    this.#runHook();
    const bytes = this.#pending.length > 0 ? Buffer.concat([...this.#pending.splice(0), chunk]) : chunk;
    this.sink.write(bytes, this, callback);
  }

  override _final(callback: WriteCallback): void {
    this.#writeCalled = true;
    this.#runHook();
    if (this.#pending.length === 0) {
      this.sink.end(this, callback);
      return;
    }
    this.sink.write(Buffer.concat(this.#pending.splice(0)), this, (error) => {
      if (error) callback(error);
      else this.sink.end(this, callback);
    });
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.sink.abort(error);
    callback(error);
  }

  /** Runs the prelude hook once, collecting what it writes so it precedes the first chunk. */
  #runHook(): void {
    if (this.#hookRan || typeof this._onBeforeFirstWrite !== 'function') return;
    this.#hookRan = true;
    this._onBeforeFirstWrite((chunk) => {
      this.#pending.push(typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    });
  }
}

/** The stream surface `HttpResponseStream.from` relies on (the real runtime's or ours). */
interface PreludeCapableStream {
  setContentType(contentType: string): void;
  _onBeforeFirstWrite?: ((write: (chunk: string | Uint8Array) => void) => void) | undefined;
}

/** `awslambda.HttpResponseStream`: wraps a response stream so it starts with the HTTP prelude. */
// biome-ignore lint/complexity/noStaticOnlyClass: mirrors the runtime global `awslambda.HttpResponseStream.from`
export class HttpResponseStream {
  /** Sets the prelude content type and arranges for prelude + 8 NUL bytes before the first write. */
  static from<T extends PreludeCapableStream>(underlyingStream: T, prelude: HttpResponseMetadata): T {
    underlyingStream.setContentType(PRELUDE_CONTENT_TYPE);
    const metadata = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(PRELUDE_DELIMITER_LENGTH));
    };
    return underlyingStream;
  }
}

/** `awslambda.streamifyResponse`: marks the handler for the streaming invoke path and returns it. */
export function streamifyResponse<T extends object>(handler: T, options?: StreamifyOptions): T {
  Object.defineProperty(handler, HANDLER_STREAMING, { value: STREAM_RESPONSE, configurable: true });
  if (typeof options?.highWaterMark === 'number') {
    Object.defineProperty(handler, HANDLER_HIGHWATERMARK, { value: Math.trunc(options.highWaterMark), configurable: true });
  }
  return handler;
}

/** True when the handler went through `streamifyResponse` (ours or the real runtime's). */
export function isStreamingHandler(handler: object): boolean {
  return Reflect.get(handler, HANDLER_STREAMING) === STREAM_RESPONSE;
}

/** The high-water mark `streamifyResponse` recorded, if any. */
export function streamHighWaterMark(handler: object): number | undefined {
  const value: unknown = Reflect.get(handler, HANDLER_HIGHWATERMARK);
  return typeof value === 'number' ? value : undefined;
}

/**
 * Installs `globalThis.awslambda` unless something (the real runtime, an earlier host) already
 * did. Returns true when this call installed it.
 */
export function installAwsLambdaGlobal(): boolean {
  const existing: unknown = Reflect.get(globalThis, 'awslambda');
  if (existing !== undefined && existing !== null && typeof existing === 'object') {
    // Something (e.g. @aws/lambda-invoke-store, imported by the SDK and Powertools) created the
    // global first: add the runtime's functions to it rather than leave handlers without them.
    const target = existing as Record<string, unknown>;
    if (typeof target.streamifyResponse === 'function') return false;
    target.streamifyResponse = streamifyResponse;
    target.HttpResponseStream = HttpResponseStream;
    return true;
  }
  if (existing !== undefined) return false;
  Object.defineProperty(globalThis, 'awslambda', {
    value: { streamifyResponse, HttpResponseStream },
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return true;
}
