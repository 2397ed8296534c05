/**
 * The SageMaker adapter proper: one inference through InvokeEndpoint with the real AWS SDK, in the
 * model's container format.
 */
import { InvokeEndpointCommand, type SageMakerRuntimeClient } from '@aws-sdk/client-sagemaker-runtime';
import type { BackendInferRequest, BackendInferResponse } from '../../../shared/contracts/backend';
import { fromContainerResponse, toContainerRequest } from '../../core/formats';
import { AdapterError, UpstreamError } from '../../core/errors';
import type { SagemakerModel } from '../../config';
import { mapSagemakerError } from './errors';

/** The part of the SDK client the adapter uses. */
export type SagemakerSender = Pick<SageMakerRuntimeClient, 'send'>;

const decoder = new TextDecoder();

export interface InvokeSyncOptions {
  readonly timeoutMs: number;
  readonly now?: () => number;
}

/** Runs one non-streaming inference; throws AdapterError on every failure. */
export async function invokeSagemaker(
  client: SagemakerSender,
  model: SagemakerModel,
  req: BackendInferRequest,
  options: InvokeSyncOptions,
): Promise<BackendInferResponse> {
  const now = options.now ?? performance.now.bind(performance);
  const started = now();
  const command = new InvokeEndpointCommand({
    EndpointName: model.endpointName,
    ContentType: 'application/json',
    Accept: 'application/json',
    Body: new TextEncoder().encode(JSON.stringify(toContainerRequest(model.format, req, model.modelId))),
    ...(model.targetVariant ? { TargetVariant: model.targetVariant } : {}),
    ...(model.inferenceComponent ? { InferenceComponentName: model.inferenceComponent } : {}),
  });
  let body: unknown;
  try {
    const response = await client.send(command, { abortSignal: AbortSignal.timeout(options.timeoutMs) });
    body = JSON.parse(decoder.decode(response.Body ?? new Uint8Array()));
  } catch (err) {
    if (err instanceof SyntaxError) throw new UpstreamError(502, 'the model container answered with invalid JSON', { reason: 'bad_response', cause: err });
    throw mapSagemakerError(err, model.endpointName);
  }
  const { output, usage } = fromContainerResponse(model.format, body, req);
  return { output, usage, model_latency_ms: Math.round(now() - started) };
}

/** The invoke function for a whole config: picks the model's endpoint, refuses unknown models. */
export function sagemakerInvoker(client: SagemakerSender, config: { models: Readonly<Record<string, SagemakerModel>>; invokeTimeoutMs: number }) {
  return (req: BackendInferRequest): Promise<BackendInferResponse> => {
    const model = Object.hasOwn(config.models, req.model) ? config.models[req.model] : undefined;
    if (!model) return Promise.reject(new AdapterError('NOT_FOUND', 404, `model '${req.model}' is not configured on this adapter`));
    return invokeSagemaker(client, model, req, { timeoutMs: config.invokeTimeoutMs });
  };
}
