/**
 * node:http plumbing for the reference model server: whole-body responses, writes that respect
 * back-pressure, and the stream transports (SSE / JSON lines, and SageMaker's event stream) the
 * pacing loop writes through.
 */
import type { ServerResponse } from 'node:http';
import { modelStreamErrorFrame, payloadPartFrame, PayloadFramer } from './sagemaker-wire';
import type { PayloadFraming } from './config';

/** Sends a complete response unless the client is already gone. */
export function sendBody(res: ServerResponse, status: number, headers: Readonly<Record<string, string>>, body: string | Uint8Array): void {
  if (res.destroyed || res.headersSent) return;
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { ...headers, 'Content-Length': String(bytes.length) });
  res.end(bytes);
}

/** Sends a JSON body. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  sendBody(res, status, { 'Content-Type': 'application/json', ...headers }, JSON.stringify(body));
}

/** Writes a chunk; when the socket buffer is full, resolves on `drain` (or when the client is gone). */
export function writeChunk(res: ServerResponse, chunk: string | Uint8Array): Promise<void> {
  if (res.destroyed || res.writableEnded) return Promise.resolve();
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Where the pacing loop writes a stream, whatever the wire. */
export interface StreamTransport {
  /** Sends the 200 and headers; `contentType` is the container's. */
  begin(contentType: string): void;
  /** One event (SSE event / JSON line) of container output. */
  send(event: string): Promise<void>;
  /** A normal end. */
  end(): void;
  /** Fails the stream in-band with `message`, then ends it. */
  fail(message: string): void;
  /** Drops the connection abruptly. */
  drop(): void;
}

/** A plain HTTP stream (SSE or JSON lines) as vLLM / TGI write it; `errorEvent` renders the in-band failure. */
export function httpStreamTransport(res: ServerResponse, errorEvent: (message: string) => string): StreamTransport {
  return {
    begin(contentType) {
      res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
      res.flushHeaders();
    },
    send: (event) => writeChunk(res, event),
    end: () => res.end(),
    fail(message) {
      res.end(errorEvent(message));
    },
    drop: () => res.destroy(),
  };
}

/**
 * SageMaker's InvokeEndpointWithResponseStream response: each piece of container output as a
 * PayloadPart frame (grouped per `framing`), a ModelStreamError frame on failure.
 */
export function sageMakerStreamTransport(res: ServerResponse, headers: Readonly<Record<string, string>>, framing: PayloadFraming): StreamTransport {
  const framer = new PayloadFramer(framing);
  const writeParts = (parts: Uint8Array[]) => {
    for (const part of parts) res.write(payloadPartFrame(part));
  };
  return {
    begin(contentType) {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/vnd.amazon.eventstream', 'X-Amzn-SageMaker-Content-Type': contentType });
      res.flushHeaders();
    },
    async send(event) {
      const frames = framer.push(Buffer.from(event, 'utf8')).map(payloadPartFrame);
      for (const frame of frames) await writeChunk(res, frame);
    },
    end() {
      writeParts(framer.flush());
      res.end();
    },
    fail(message) {
      writeParts(framer.flush());
      res.end(modelStreamErrorFrame(message, 'StreamBroken'));
    },
    drop: () => res.destroy(),
  };
}
