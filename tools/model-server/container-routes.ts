/**
 * The container's own HTTP API, as the GPU serving containers expose it: the SageMaker container
 * contract (`GET /ping`, `POST /invocations`), TGI's native `POST /generate` and
 * `/generate_stream`, and the shared handler the OpenAI routes use too. Errors are the container's
 * (format-specific bodies), not SageMaker's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody } from '../lib/net';
import { behaviourFor, type ContainerFormat } from './config';
import { frontFault } from './faults';
import { tgiGenerateBody, type ContainerError } from './formats';
import { httpStreamTransport, sendBody } from './io';
import type { RouteName } from './stats';
import { INJECTED_FAILURE, decodeJson, errorFormat, modelOf, prepare, responseMeta, serveStream, serveWhole, type Prepared, type ServerContext } from './serve';

/** How one HTTP inference route behaves. */
export interface HttpInferenceRoute {
  readonly route: RouteName;
  /** The only format the route accepts, or `auto` (the configured container format). */
  readonly format: ContainerFormat;
  /** `request`: stream when the body says `stream: true`; `always` / `never` regardless. */
  readonly streaming: 'request' | 'always' | 'never';
  /** Replaces the format's non-streamed body (TGI `/generate` answers an object, not a list). */
  readonly syncBody?: (prepared: Prepared) => string;
}

function retryAfter(status: number, seconds: number): Record<string, string> {
  return status === 429 || status === 503 ? { 'Retry-After': String(seconds) } : {};
}

/** Handles an inference request on the container's HTTP API (OpenAI, TGI, `/invocations`). */
export async function handleHttpInference(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, spec: HttpInferenceRoute): Promise<void> {
  const signal = ctx.track(res);
  const config = ctx.config();
  const record = ctx.stats.begin(spec.route, config.modelName);
  let behaviour = behaviourFor(config, config.modelName);
  const formatSetting = () => (spec.format === 'auto' ? behaviour.format : spec.format);
  const fail = (error: ContainerError, headers: Record<string, string> = {}) => {
    sendBody(res, error.status, { 'Content-Type': error.contentType, ...headers }, error.body);
    record.failed(error.status);
  };

  let body: Buffer;
  try {
    body = await readBody(req, ctx.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return fail(errorFormat(formatSetting()).error(413, error.message));
    return record.cancelled(0); // the client went away mid-upload
  }
  const decoded = decodeJson(body);
  if (!decoded.ok) {
    const format = errorFormat(formatSetting());
    return fail(format.error(format.name === 'tgi' ? 422 : 400, decoded.message));
  }
  const target = modelOf(decoded.value) ?? config.modelName;
  record.setTarget(target);
  behaviour = behaviourFor(config, target);

  const fault = frontFault(behaviour, Date.now());
  if (fault) {
    record.fault(fault.kind);
    const status = fault.kind === 'warming' ? 503 : fault.status;
    const message =
      fault.kind === 'warming'
        ? `The model is loading (no capacity yet); retry in ${fault.retryAfterSeconds} s`
        : `${INJECTED_FAILURE} (forcedStatus=${status})`;
    return fail(errorFormat(formatSetting()).error(status, message), retryAfter(status, fault.retryAfterSeconds));
  }
  const result = prepare(decoded.value, formatSetting(), config, behaviour);
  if (!result.ok) return fail(result.error);
  const { prepared } = result;
  if (prepared.request.images) ctx.received.addImages(req, prepared.request.images);
  if (ctx.errorRate.hit(target, behaviour.errorRate)) {
    record.fault('errorRate');
    return fail(prepared.format.error(500, INJECTED_FAILURE));
  }

  const meta = responseMeta(prepared, config);
  const streamed = spec.streaming === 'always' || (spec.streaming === 'request' && prepared.request.stream);
  if (!streamed) {
    const json = spec.syncBody?.(prepared) ?? prepared.format.respond(prepared.request, prepared.generation, meta);
    return serveWhole(prepared, behaviour, signal, record, () => sendBody(res, 200, { 'Content-Type': 'application/json' }, json));
  }
  const script = prepared.format.stream(prepared.request, prepared.generation, meta);
  const transport = httpStreamTransport(res, prepared.format.streamError);
  return serveStream(prepared, script, behaviour, signal, record, transport, (tokens) => `${INJECTED_FAILURE}: stream cut after ${tokens} tokens`);
}

/** `POST /invocations`: the SageMaker container contract (format detected or configured). */
export const containerInvocations: HttpInferenceRoute = { route: 'container.invocations', format: 'auto', streaming: 'request' };

/** TGI's `POST /generate`: `{generated_text, details?}`. */
export const tgiGenerate: HttpInferenceRoute = {
  route: 'tgi.generate',
  format: 'tgi',
  streaming: 'never',
  syncBody: ({ request, generation }) => JSON.stringify(tgiGenerateBody(request, generation)),
};

/** TGI's `POST /generate_stream`: always SSE. */
export const tgiGenerateStream: HttpInferenceRoute = { route: 'tgi.generateStream', format: 'tgi', streaming: 'always' };

/** `GET /ping` (SageMaker) and `GET /health` (vLLM, TGI): 200 when ready, 503 during the global warming window. */
export function handleHealth(ctx: ServerContext, res: ServerResponse): void {
  const { warmingUntil } = ctx.config();
  const warming = warmingUntil !== null && Date.now() < warmingUntil;
  sendBody(res, warming ? 503 : 200, { 'Content-Type': 'text/plain; charset=utf-8' }, '');
}
