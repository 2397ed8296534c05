/**
 * The wiring every adapter's Lambda entry shares: a RESPONSE_STREAM handler that adapts the
 * runtime's `responseStream` to core's ResponseSink, aborts upstream work when that stream fails
 * (locally: the caller disconnected; see backend/types/awslambda.d.ts), runs core's handleInvoke
 * inside an X-Ray subsegment when tracing is on, records logs and metrics from its outcome (every
 * line with the request's `trace_id`), and flushes the invocation's OpenTelemetry spans.
 */
import { finished } from 'node:stream';
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Backend } from '../core/backend';
import { handleEmbeddings } from '../core/embed';
import { ClientClosedError } from '../core/errors';
import type { ContainerModel } from '../core/formats';
import { handleInvoke, type InvocationOutcome } from '../core/handle-invoke';
import { headerRequestId } from '../core/request';
import { relayResponses } from '../core/responses-relay';
import { RESPONSES_RELAY_PATH } from '../../shared/contracts/responses';
import { EMBEDDINGS_PATH } from '../../shared/contracts/embeddings';
import type { ResponseSink } from '../core/sink';
import { recordOutcome } from '../core/telemetry';
import { type AdapterTracing, TRACING_OFF } from '../core/tracing';
import type { Powertools } from './powertools';

/** A ResponseSink over the Lambda response stream: the prelude on `start`, writes with backpressure. */
export function responseStreamSink(responseStream: awslambda.HttpResponseStream): ResponseSink {
  let out: NodeJS.WritableStream & { destroyed: boolean; writableEnded: boolean } = responseStream;
  let started = false;
  let ended = false;
  return {
    get started() {
      return started;
    },
    get ended() {
      return ended;
    },
    start(statusCode, headers) {
      out = awslambda.HttpResponseStream.from(responseStream, { statusCode, headers: { ...headers } });
      started = true;
    },
    write(chunk) {
      if (out.destroyed || out.writableEnded) return Promise.reject(new ClientClosedError());
      return new Promise((resolve, reject) => {
        out.write(chunk, (err) => (err ? reject(new ClientClosedError({ cause: err })) : resolve()));
      });
    },
    end(chunk) {
      ended = true;
      if (out.destroyed || out.writableEnded) return Promise.resolve();
      return new Promise((resolve) => {
        if (chunk) out.end(chunk, () => resolve());
        else out.end(() => resolve());
      });
    },
  };
}

/** Runs `invoke` in a `## invoke` subsegment with searchable annotations, when tracing is on. */
async function traced(tracer: Tracer, invoke: () => Promise<InvocationOutcome>): Promise<InvocationOutcome> {
  if (!tracer.isTracingEnabled()) return invoke();
  const parent = tracer.getSegment();
  const segment = parent?.addNewSubsegment('## invoke');
  if (segment) tracer.setSegment(segment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  try {
    const outcome = await invoke();
    if (outcome.modelKnown && outcome.model) tracer.putAnnotation('model', outcome.model);
    tracer.putAnnotation('status', outcome.status);
    if (outcome.error) tracer.putAnnotation('error_code', outcome.error.code);
    return outcome;
  } finally {
    segment?.close();
    if (parent) tracer.setSegment(parent);
  }
}

/** What an adapter's streaming handler is built from. */
export interface StreamingHandlerDeps<M extends ContainerModel> {
  readonly backend: Backend<M>;
  readonly powertools: Powertools;
  /** Log prompts and outputs at DEBUG (config LOG_PAYLOADS). */
  readonly logPayloads: boolean;
  /** OpenTelemetry spans of each invocation (core/tracing.ts), flushed before it ends. @default off */
  readonly tracing?: AdapterTracing;
}

/** The Function URL handler (RESPONSE_STREAM) of an adapter. */
export function createStreamingHandler<M extends ContainerModel>(deps: StreamingHandlerDeps<M>) {
  const { backend, powertools, logPayloads, tracing = TRACING_OFF } = deps;
  return awslambda.streamifyResponse<LambdaFunctionURLEvent>(async (event, responseStream, context) => {
    powertools.logger.addContext(context);
    // Emits a ColdStart metric on the first invocation of this execution environment only.
    powertools.metrics.captureColdStartMetric(context.functionName);
    const controller = new AbortController();
    finished(responseStream, (err) => {
      if (err) controller.abort(err);
    });
    const sink = responseStreamSink(responseStream);
    // The relay path passes a Responses API call to a container that serves it, the embeddings path embeds a batch;
    // every other path is the invoke contract's.
    const handle = event.rawPath === RESPONSES_RELAY_PATH ? relayResponses : event.rawPath === EMBEDDINGS_PATH ? handleEmbeddings : handleInvoke;
    const trace = await tracing.begin(event.headers);
    // Every line of this invocation joins the edge's: its trace and (until the body says otherwise) the header's request id.
    powertools.logger.appendKeys({ trace_id: trace.traceId, request_id: headerRequestId(event) });
    try {
      const outcome = await traced(powertools.tracer, () => handle(event, sink, backend, { signal: controller.signal, trace }));
      trace.end(outcome);
      recordOutcome(outcome, { logger: powertools.logger, metrics: powertools.metrics, logPayloads });
    } finally {
      powertools.logger.removeKeys(['trace_id', 'request_id']);
    }
    // Lambda freezes the environment once the handler returns: the spans leave now (bounded), not later.
    await tracing.flush();
  });
}
