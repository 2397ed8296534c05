/**
 * The edge ↔ backend contract, checked from the wire: both adapters, in the local Lambda host
 * (Function URL, AWS_IAM, RESPONSE_STREAM) in front of the reference model server, are driven
 * through success and every failure the server can inject, and each answer is read with the shared
 * schemas the edge reads it with (shared/contracts/backend.ts, boundary.ts). An error's reason must
 * be one the contract declares (strictly: not through the edge's tolerant reader), its Retry-After
 * header must match `details.retry_after`, and a stream must carry the shared SSE headers and be
 * `token`* then exactly one `done` or `error`, every event parsing.
 */
import '../../tools/lambda-host/register';
import { SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendErrorSchema, BackendInferResponseSchema, parseBackendStreamEvent, type BackendStreamEvent } from '../../shared/contracts/backend';
import { BackendReasonSchema, SSE_HEADERS, isEventStream, type BackendReason } from '../../shared/contracts/boundary';
import { freePort } from '../../tools/lib/net';
import type { ModelServerConfigPatch } from '../../tools/model-server/config';
import { startModelServer, type ModelServer } from '../../tools/model-server/server';
import { ecsBackend } from '../adapters/ecs/transport';
import { sagemakerBackend } from '../adapters/sagemaker/transport';
import type { Timeouts } from '../core/backend';
import { SseReader, quietPowertools, startAdapterHost, type AdapterHost } from '../testing/lambda';
import { createStreamingHandler } from './lambda-stream';

let server: ModelServer;
let adapters: AdapterHost;
const clients: SageMakerRuntimeClient[] = [];

const ROOMY: Timeouts = { requestMs: 5000, firstTokenMs: 5000, idleMs: 5000 };
const IMPATIENT: Timeouts = { requestMs: 150, firstTokenMs: 150, idleMs: 5000 };

function sagemakerHandler(endpoint: string, timeouts: Timeouts) {
  const client = new SageMakerRuntimeClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 1 });
  clients.push(client);
  const models = { m: { endpointName: 'ep-contract', format: 'tgi', chatTemplate: 'default' } } as const;
  return createStreamingHandler({
    backend: sagemakerBackend(client, { models, timeouts }),
    powertools: quietPowertools('sagemaker-adapter'),
    logPayloads: false,
  });
}

function ecsHandler(root: string, timeouts: Timeouts) {
  const models = { m: { format: 'openai-chat', modelId: 'llama-chat', baseUrl: `${root}/v1`, chatTemplate: 'default' } } as const;
  return createStreamingHandler({ backend: ecsBackend({ models, timeouts }), powertools: quietPowertools('ecs-adapter'), logPayloads: false });
}

beforeAll(async () => {
  server = await startModelServer();
  const nobody = `http://127.0.0.1:${await freePort()}`;
  adapters = await startAdapterHost({
    sagemaker: sagemakerHandler(server.url, ROOMY),
    'sagemaker-impatient': sagemakerHandler(server.url, IMPATIENT),
    'sagemaker-unreachable': sagemakerHandler(nobody, ROOMY),
    ecs: ecsHandler(server.url, ROOMY),
    'ecs-impatient': ecsHandler(server.url, IMPATIENT),
    'ecs-unreachable': ecsHandler(nobody, ROOMY),
  });
});
afterAll(async () => {
  await adapters?.close();
  for (const c of clients) c.destroy();
  await server?.close();
});
beforeEach(() => server.reset());

/** One way to call an adapter, and the reason its answer must give (undefined: it succeeds). */
interface Scenario {
  readonly name: string;
  readonly config?: ModelServerConfigPatch;
  /** Which host function: the adapter itself, or its impatient / unreachable twin. */
  readonly variant?: 'impatient' | 'unreachable';
  readonly request?: Record<string, unknown>;
  readonly sync: BackendReason | undefined;
  readonly stream: BackendReason | undefined;
}

const big = { params: { max_tokens: 5000, temperature: 0 } };
const late = { ttftMs: 2000 };

const SCENARIOS: Record<'sagemaker' | 'ecs', readonly Scenario[]> = {
  sagemaker: [
    { name: 'success', sync: undefined, stream: undefined },
    { name: 'ValidationError', config: { forcedStatus: 400 }, sync: 'validation', stream: 'validation' },
    { name: 'ModelError', config: { forcedStatus: 424 }, sync: 'model_error', stream: 'model_error' },
    { name: 'ThrottlingException', config: { forcedStatus: 429, retryAfterSeconds: 7 }, sync: 'throttled', stream: 'throttled' },
    { name: 'InternalFailure', config: { forcedStatus: 500 }, sync: 'internal_failure', stream: 'internal_failure' },
    { name: 'ServiceUnavailable', config: { forcedStatus: 503, retryAfterSeconds: 4 }, sync: 'unavailable', stream: 'unavailable' },
    { name: 'InternalDependencyException', config: { forcedStatus: 530 }, sync: 'internal_failure', stream: 'internal_failure' },
    { name: 'scaled to zero', config: { warmingForMs: 20_000 }, sync: 'no_capacity', stream: 'no_capacity' },
    { name: 'ModelNotReadyException', config: { warmingForMs: 9_000, warmingStyle: 'model-not-ready' }, sync: 'model_not_ready', stream: 'model_not_ready' },
    { name: 'a prompt over the context window', request: big, sync: 'model_rejected_input', stream: 'model_rejected_input' },
    { name: 'a late first token', config: late, variant: 'impatient', sync: 'timeout', stream: 'first_token_timeout' },
    { name: 'a stream cut by an error frame', config: { streamCutAfter: 2, streamCutMode: 'error' }, sync: undefined, stream: 'model_stream_error' },
    { name: 'a stream cut by a dropped connection', config: { streamCutAfter: 2, streamCutMode: 'close' }, sync: undefined, stream: 'model_stream_error' },
    { name: 'an unreachable runtime', variant: 'unreachable', sync: 'unreachable', stream: 'unreachable' },
    { name: 'an unknown model', request: { model: 'not-here' }, sync: 'unknown_model', stream: 'unknown_model' },
  ],
  ecs: [
    { name: 'success', sync: undefined, stream: undefined },
    { name: 'a container 400', config: { forcedStatus: 400 }, sync: 'model_rejected_input', stream: 'model_rejected_input' },
    { name: 'a container 429', config: { forcedStatus: 429, retryAfterSeconds: 6 }, sync: 'model_overloaded', stream: 'model_overloaded' },
    { name: 'a container 500', config: { forcedStatus: 500 }, sync: 'model_error', stream: 'model_error' },
    { name: 'a container 503', config: { forcedStatus: 503, retryAfterSeconds: 3 }, sync: 'unavailable', stream: 'unavailable' },
    { name: 'a model still loading', config: { warmingForMs: 12_000 }, sync: 'model_not_ready', stream: 'model_not_ready' },
    { name: 'a prompt over the context window', request: big, sync: 'model_rejected_input', stream: 'model_rejected_input' },
    { name: 'a late first token', config: late, variant: 'impatient', sync: 'timeout', stream: 'first_token_timeout' },
    { name: 'a stream cut by an error event', config: { streamCutAfter: 2, streamCutMode: 'error' }, sync: undefined, stream: 'model_stream_error' },
    { name: 'a stream cut by a dropped connection', config: { streamCutAfter: 2, streamCutMode: 'close' }, sync: undefined, stream: 'model_stream_error' },
    { name: 'an unreachable service', variant: 'unreachable', sync: 'unreachable', stream: 'unreachable' },
    { name: 'an unknown model', request: { model: 'not-here' }, sync: 'unknown_model', stream: 'unknown_model' },
  ],
};

/** What an answer said, read the way the edge reads it. */
interface Reading {
  readonly status: number;
  /** The reason of the error, JSON or final `error` event; undefined for a success. */
  readonly reason: BackendReason | undefined;
  readonly events: readonly BackendStreamEvent[];
}

/** The raw `details.reason` of an error object, checked strictly against the declared reasons. */
function strictReason(raw: unknown): BackendReason {
  const reason = (raw as { details?: { reason?: unknown } }).details?.reason;
  const parsed = BackendReasonSchema.safeParse(reason);
  if (!parsed.success) throw new Error(`reason ${JSON.stringify(reason)} is not declared in shared/contracts/boundary.ts`);
  return parsed.data;
}

async function read(res: Response, stream: boolean): Promise<Reading> {
  if (isEventStream(res.headers.get('content-type'))) {
    expect(stream).toBe(true);
    expect(res.status).toBe(200);
    for (const [name, value] of Object.entries(SSE_HEADERS)) expect(res.headers.get(name), name).toBe(value);
    const messages = await new SseReader(res).rest();
    const events = messages.map((m) => parseBackendStreamEvent(m));
    expect(
      events.every((e) => e !== undefined),
      JSON.stringify(messages),
    ).toBe(true);
    const known = events as BackendStreamEvent[];
    expect(known.slice(0, -1).every((e) => e.event === 'token')).toBe(true);
    const last = known.at(-1);
    expect(['done', 'error']).toContain(last?.event);
    return { status: 200, reason: last?.event === 'error' ? strictReason(JSON.parse(messages.at(-1)!.data)) : undefined, events: known };
  }
  expect(res.headers.get('content-type')).toBe('application/json');
  const raw: unknown = await res.json();
  if (res.status === 200) {
    expect(stream).toBe(false);
    BackendInferResponseSchema.parse(raw);
    return { status: 200, reason: undefined, events: [] };
  }
  // The edge's reader keeps every field a current adapter sends: nothing dropped, nothing added.
  const { error } = BackendErrorSchema.parse(raw);
  expect(error).toEqual((raw as { error: unknown }).error);
  const retryAfter = res.headers.get('retry-after');
  expect(retryAfter === null ? undefined : Number(retryAfter)).toBe(error.details?.retry_after);
  return { status: res.status, reason: strictReason((raw as { error: unknown }).error), events: [] };
}

describe.each(['sagemaker', 'ecs'] as const)('the %s adapter', (adapter) => {
  it.each(SCENARIOS[adapter].flatMap((s) => [false, true].map((stream) => [s.name, stream ? 'streamed' : 'sync', s, stream] as const)))(
    'answers %s (%s) within the contract',
    async (_name, _mode, scenario, stream) => {
      if (scenario.config) server.setConfig(scenario.config);
      const fn = scenario.variant ? `${adapter}-${scenario.variant}` : adapter;
      const body = { request_id: 'req-contract', tenant_id: 'ten-contract', model: 'm', prompt: 'One line on the contract.', stream, ...scenario.request };
      const reading = await read(await adapters.call(fn, body), stream);
      const expected = stream ? scenario.stream : scenario.sync;
      expect(reading.reason).toBe(expected);
      if (expected === undefined) expect(reading.status).toBe(200);
    },
  );
});
