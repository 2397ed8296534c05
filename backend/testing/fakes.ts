/**
 * Test support for core: a Function URL event builder and a backend whose transport a test scripts
 * (whole answers, byte chunks, hangs until aborted), recording the signals it was given.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { INVOKE_PATH, REASON, REQUEST_ID_HEADER } from '../../shared/contracts/boundary';
import type { Backend, Timeouts, UpstreamResponse, UpstreamStream } from '../core/backend';
import { AdapterError, UpstreamError } from '../core/errors';
import type { ContainerModel } from '../core/formats';

/** A Function URL (payload 2.0) event for the invoke path. */
export function invokeEvent(body: unknown, over: { path?: string; method?: string; base64?: boolean } = {}): LambdaFunctionURLEvent {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: over.path ?? INVOKE_PATH,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: 'hdr-req' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'local',
      domainPrefix: 'local',
      http: { method: over.method ?? 'POST', path: over.path ?? INVOKE_PATH, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'req',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    body: over.base64 ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: over.base64 ?? false,
  };
}

const encoder = new TextEncoder();

/** Bytes of `text`. */
export const bytes = (text: string): Uint8Array => encoder.encode(text);

/** Resolves never; rejects with the signal's reason when it aborts. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** What a scripted transport does. */
export interface TransportScript {
  invoke?: (signal: AbortSignal) => Promise<UpstreamResponse>;
  /** Chunks of the stream; the generator gets the signal to hang on. */
  stream?: (signal: AbortSignal) => AsyncIterable<Uint8Array>;
  streamContentType?: string;
  /** Fails the stream call itself (before any byte). */
  streamError?: unknown;
}

/** A backend with models `json-m` (json) and `tgi-m` (tgi), a scripted transport and recorded signals. */
export function scriptedBackend(script: TransportScript, timeouts: Partial<Timeouts> = {}): Backend<ContainerModel> & { signals: AbortSignal[] } {
  const signals: AbortSignal[] = [];
  return {
    kind: 'sagemaker',
    models: { 'json-m': { format: 'json', chatTemplate: 'default' }, 'tgi-m': { format: 'tgi', chatTemplate: 'default' } },
    timeouts: { requestMs: 1000, firstTokenMs: 1000, idleMs: 1000, ...timeouts },
    target: () => 'target-endpoint',
    signals,
    transport: {
      invoke: (_model, _body, signal) => {
        signals.push(signal);
        if (!script.invoke) throw new Error('no invoke scripted');
        return script.invoke(signal);
      },
      stream: async (_model, _body, signal): Promise<UpstreamStream> => {
        signals.push(signal);
        if (script.streamError !== undefined) throw script.streamError;
        if (!script.stream) throw new Error('no stream scripted');
        return { contentType: script.streamContentType ?? 'application/jsonlines', chunks: script.stream(signal) };
      },
      mapError: (err) => (err instanceof AdapterError ? err : new UpstreamError(502, 'mapped by the transport', { reason: REASON.unexpected, cause: err })),
    },
  };
}
