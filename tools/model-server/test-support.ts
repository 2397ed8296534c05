/**
 * Helpers for the reference model server's tests: a real SageMaker runtime client pointed at the
 * server, stream collectors and SSE parsing.
 */
import { SageMakerRuntimeClient, type ResponseStream } from '@aws-sdk/client-sagemaker-runtime';

/** The real AWS SDK client against `url`, without retries so each call is one request. */
export function sageMakerClient(url: string): SageMakerRuntimeClient {
  return new SageMakerRuntimeClient({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

/** JSON → bytes, as InvokeEndpoint's `Body`. */
export function jsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** Bytes → text. */
export function text(bytes: Uint8Array | undefined): string {
  return new TextDecoder().decode(bytes);
}

/** Reads every PayloadPart of a response stream; the error, if the iteration throws, is returned too. */
export async function collectParts(body: AsyncIterable<ResponseStream> | undefined): Promise<{ parts: Uint8Array[]; text: string; error: unknown }> {
  const parts: Uint8Array[] = [];
  let error: unknown = null;
  try {
    for await (const event of body ?? []) if (event.PayloadPart?.Bytes) parts.push(event.PayloadPart.Bytes);
  } catch (e) {
    error = e;
  }
  return { parts, text: new TextDecoder().decode(Buffer.concat(parts)), error };
}

/** The `data` payloads of an SSE text (`data:` with or without a space), `[DONE]` included as a string. */
export function sseData(raw: string): unknown[] {
  return raw
    .split('\n\n')
    .filter((event) => event.startsWith('data:'))
    .map((event) => event.slice('data:'.length).trim())
    .map((data) => (data === '[DONE]' ? data : (JSON.parse(data) as unknown)));
}

/** Resolves with what `promise` rejects with (fails if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
