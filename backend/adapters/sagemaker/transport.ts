/**
 * The SageMaker adapter's transport: InvokeEndpoint for whole answers and
 * InvokeEndpointWithResponseStream for streams, with the real AWS SDK. A stream's PayloadParts are
 * handed on as raw bytes the moment they arrive (empty parts skipped); exception events
 * (ModelStreamError, InternalStreamFailure) are thrown from the iteration. TargetVariant and
 * InferenceComponentName come from the model's config.
 */
import {
  InvokeEndpointCommand,
  InvokeEndpointWithResponseStreamCommand,
  type ResponseStream,
  type SageMakerRuntimeClient,
} from '@aws-sdk/client-sagemaker-runtime';
import { formatCustomAttributes, formatTraceparent } from '../../../shared/contracts/trace';
import type { Backend, CallMeta, Transport, UpstreamStream } from '../../core/backend';
import type { SagemakerConfig, SagemakerModel } from '../../config/sagemaker';
import { mapSagemakerError } from './errors';

/** The part of the SDK client the adapter uses. */
export type SagemakerSender = Pick<SageMakerRuntimeClient, 'send'>;

function endpointParams(model: SagemakerModel, body: Uint8Array, meta: CallMeta | undefined) {
  // SageMaker hands the container no request header but this one: the trace context and request id ride in it.
  const custom = meta
    ? formatCustomAttributes({
        traceparent: meta.trace ? formatTraceparent(meta.trace) : undefined,
        tracestate: meta.trace?.tracestate,
        requestId: meta.requestId,
      })
    : undefined;
  return {
    ...(custom ? { CustomAttributes: custom } : {}),
    EndpointName: model.endpointName,
    ContentType: 'application/json',
    Body: body,
    ...(model.targetVariant ? { TargetVariant: model.targetVariant } : {}),
    ...(model.inferenceComponent ? { InferenceComponentName: model.inferenceComponent } : {}),
  };
}

/** The raw bytes of each PayloadPart; exception members that arrive as events are thrown. */
export async function* payloadBytes(events: AsyncIterable<ResponseStream>): AsyncGenerator<Uint8Array> {
  for await (const event of events) {
    if (event.PayloadPart) {
      const bytes = event.PayloadPart.Bytes;
      if (bytes && bytes.length > 0) yield bytes;
    } else if (event.ModelStreamError) {
      throw event.ModelStreamError;
    } else if (event.InternalStreamFailure) {
      throw event.InternalStreamFailure;
    }
  }
}

/** A transport over one SDK client (created once per container by the handler). */
export function sagemakerTransport(client: SagemakerSender): Transport<SagemakerModel> {
  return {
    async invoke(model, body, signal, meta) {
      const out = await client.send(new InvokeEndpointCommand({ ...endpointParams(model, body, meta), Accept: 'application/json' }), { abortSignal: signal });
      return { contentType: out.ContentType, body: out.Body ?? new Uint8Array(), attributes: out.CustomAttributes };
    },
    async stream(model, body, signal, meta): Promise<UpstreamStream> {
      const out = await client.send(new InvokeEndpointWithResponseStreamCommand(endpointParams(model, body, meta)), { abortSignal: signal });
      return { contentType: out.ContentType, chunks: payloadBytes(out.Body ?? emptyStream()) };
    },
    mapError: (err, model, phase) => mapSagemakerError(err, model.endpointName, phase),
  };
}

/** The SageMaker adapter as core sees it. */
export function sagemakerBackend(client: SagemakerSender, config: Pick<SagemakerConfig, 'models' | 'timeouts'>): Backend<SagemakerModel> {
  return {
    kind: 'sagemaker',
    models: config.models,
    transport: sagemakerTransport(client),
    timeouts: config.timeouts,
    target: (model) => model.endpointName,
  };
}

async function* emptyStream(): AsyncGenerator<ResponseStream> {}
