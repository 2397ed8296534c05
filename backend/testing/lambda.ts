/**
 * Test support for running adapters the way production does: inside the local Lambda host (Function
 * URL, AWS_IAM, RESPONSE_STREAM) in front of the reference model server, called with a SigV4-signed
 * request (aws4fetch, as the edge signs), with helpers to read the SSE answer as it arrives.
 */
import '../../tools/lambda-host/register';
import { AwsClient } from 'aws4fetch';
import { SseParser, type SseMessage } from '../../shared/sse';
import type { BackendInferRequestInput } from '../../shared/contracts/backend';
import { INVOKE_PATH } from '../../shared/contracts/boundary';
import { startLambdaHost, type FunctionSpec, type LambdaHandler, type LambdaHost } from '../../tools/lambda-host/server';
import type { Powertools } from '../handlers/powertools';
import { createPowertools } from '../handlers/powertools';

const REGION = 'eu-west-1';
const CREDENTIALS = { accessKeyId: 'AKIALOCALADAPTERTEST', secretAccessKey: 'adapter-test-secret' };

/** Real Powertools, silenced (no logs, no EMF): they read these settings once, when constructed. */
export function quietPowertools(service: string): Powertools {
  const quiet = { POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' } as const;
  const saved = Object.fromEntries(Object.keys(quiet).map((k) => [k, process.env[k]]));
  Object.assign(process.env, quiet);
  try {
    return createPowertools(service, { logPayloads: false, metricsNamespace: 'Test' });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A Lambda host serving `handlers` by name; `call` signs requests as the edge does. */
export interface AdapterHost {
  readonly host: LambdaHost;
  call(
    name: string,
    body: BackendInferRequestInput | string,
    init?: { signal?: AbortSignal; path?: string; headers?: Record<string, string> },
  ): Promise<Response>;
  close(): Promise<void>;
}

/** Starts a host with `handlers` (functions) and `specs` (e.g. a handler module with its env). */
export async function startAdapterHost(handlers: Record<string, LambdaHandler>, timeoutMs = 10_000, specs: FunctionSpec[] = []): Promise<AdapterHost> {
  const host = await startLambdaHost({
    region: REGION,
    credentials: [CREDENTIALS],
    log: () => {},
    functions: [
      ...Object.entries(handlers).map(([name, handler]) => ({ name, handler, invokeMode: 'RESPONSE_STREAM' as const, timeoutMs })),
      ...specs.map((spec) => ({ invokeMode: 'RESPONSE_STREAM' as const, timeoutMs, ...spec })),
    ],
  });
  const aws = new AwsClient({ ...CREDENTIALS, service: 'lambda', region: REGION, retries: 0 });
  return {
    host,
    call: (name, body, init = {}) =>
      aws.fetch(new URL(init.path ?? INVOKE_PATH, host.urls[name]).toString(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...init.headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
        ...(init.signal ? { signal: init.signal } : {}),
      }),
    close: () => host.close(),
  };
}

/** Reads SSE events from a response as they arrive. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  readonly #parser = new SseParser();
  readonly #queue: SseMessage[] = [];
  #done = false;

  constructor(res: Response) {
    if (!res.body) throw new Error('no body');
    this.#reader = res.body.getReader();
  }

  /** The next event, or undefined at the end of the stream. */
  async next(): Promise<SseMessage | undefined> {
    while (this.#queue.length === 0 && !this.#done) {
      const { value, done } = await this.#reader.read();
      if (done) {
        this.#done = true;
        this.#queue.push(...this.#parser.push(this.#decoder.decode()), ...this.#parser.end());
      } else {
        this.#queue.push(...this.#parser.push(this.#decoder.decode(value, { stream: true })));
      }
    }
    return this.#queue.shift();
  }

  /** Every remaining event. */
  async rest(): Promise<SseMessage[]> {
    const out: SseMessage[] = [];
    for (let e = await this.next(); e; e = await this.next()) out.push(e);
    return out;
  }

  /** Stops reading (the connection closes: the adapter sees its caller leave). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** The text of every `token` event. */
export function tokenText(events: readonly SseMessage[]): string {
  return events
    .filter((e) => e.event === 'token')
    .map((e) => (JSON.parse(e.data) as { text: string }).text)
    .join('');
}

/** Polls `check` until it returns true (or fails after `timeoutMs`). */
export async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
