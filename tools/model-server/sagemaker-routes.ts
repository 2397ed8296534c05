/**
 * The SageMaker runtime in front of the emulated container, as the AWS SDK calls it:
 * `POST /endpoints/{name}/invocations` (InvokeEndpoint: the container's whole response) and
 * `POST /endpoints/{name}/invocations-response-stream` (InvokeEndpointWithResponseStream: the
 * container's bytes as PayloadPart frames). Faults SageMaker raises itself (warming, throttling,
 * 5xx) come before the container; container failures come back as ModelError. A body with an
 * `inputs` list is an embedding call (a TEI container: embeddings.ts).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody } from '../lib/net';
import { behaviourFor } from './config';
import { isTeiEmbedBody, serveEmbeddings } from './embeddings';
import { frontFault, type FrontFault } from './faults';
import { sageMakerStreamTransport, sendJson, sendBody } from './io';
import { sageMakerErrors, signedRegion, type EndpointLocation, type SageMakerErrorResponse } from './sagemaker-wire';
import {
  INJECTED_FAILURE,
  containerOutput,
  decodeJson,
  errorFormat,
  prepare,
  responseMeta,
  serveStream,
  serveWhole,
  wholeBody,
  type ServerContext,
} from './serve';

/** The two runtime operations. */
export type SageMakerOperation = 'invoke' | 'invokeStream';

const ENDPOINT_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9])*$/;

function endpointNameProblem(name: string): string | null {
  if (name.length > 0 && name.length <= 63 && ENDPOINT_NAME.test(name)) return null;
  return (
    `1 validation error detected: Value '${name}' at 'endpointName' failed to satisfy constraint: ` +
    `Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])* and have length less than or equal to 63`
  );
}

/** The SageMaker error for a fault SageMaker raises itself (forced 424 is a container failure, handled later). */
function frontFaultError(fault: FrontFault): SageMakerErrorResponse | null {
  if (fault.kind === 'warming') {
    return fault.style === 'no-capacity' ? sageMakerErrors.noCapacity(fault.retryAfterSeconds) : sageMakerErrors.modelNotReady(fault.retryAfterSeconds);
  }
  switch (fault.status) {
    case 400:
      return sageMakerErrors.validation(`${INJECTED_FAILURE} (forcedStatus=400)`);
    case 429:
      return sageMakerErrors.throttling(fault.retryAfterSeconds);
    case 500:
      return sageMakerErrors.internalFailure();
    case 503:
      return sageMakerErrors.serviceUnavailable(fault.retryAfterSeconds);
    case 530:
      return sageMakerErrors.internalDependency();
    case 424:
      return null;
  }
}

/** Handles one InvokeEndpoint / InvokeEndpointWithResponseStream call. */
export async function handleSageMaker(
  ctx: ServerContext,
  req: IncomingMessage,
  res: ServerResponse,
  rawName: string,
  operation: SageMakerOperation,
): Promise<void> {
  const signal = ctx.track(res);
  let endpointName: string;
  try {
    endpointName = decodeURIComponent(rawName);
  } catch {
    endpointName = rawName;
  }
  const record = ctx.stats.begin(operation === 'invoke' ? 'sagemaker.invoke' : 'sagemaker.invokeStream', endpointName);
  const requestId = randomUUID();
  const fail = (error: SageMakerErrorResponse) => {
    sendJson(res, error.status, error.body, { ...error.headers, 'x-amzn-RequestId': requestId });
    record.failed(error.status);
  };

  const nameProblem = endpointNameProblem(endpointName);
  if (nameProblem) return fail(sageMakerErrors.validation(nameProblem));
  let body: Buffer;
  try {
    body = await readBody(req, ctx.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return fail(sageMakerErrors.validation(`Request payload exceeds the maximum size of ${error.limitBytes} bytes.`));
    return record.cancelled(0); // the client went away mid-upload
  }

  const decoded = decodeJson(body);
  // An embedding call counts as one under its own route, its faults included.
  const embedding = operation === 'invoke' && decoded.ok && isTeiEmbedBody(decoded.value);
  if (embedding) record.setRoute('sagemaker.embeddings');
  const config = ctx.config();
  const behaviour = behaviourFor(config, endpointName);
  const location: EndpointLocation = { endpointName, region: signedRegion(req.headers.authorization) };
  const fault = frontFault(behaviour, Date.now());
  if (fault) {
    record.fault(fault.kind);
    const error = frontFaultError(fault);
    if (error) return fail(error);
  }

  if (!decoded.ok) return fail(sageMakerErrors.modelError(location, errorFormat(behaviour.format).error(400, decoded.message)));
  const variant = req.headers['x-amzn-sagemaker-target-variant'];
  const headers = {
    'x-Amzn-Invoked-Production-Variant': typeof variant === 'string' && variant !== '' ? variant : 'AllTraffic',
    'x-amzn-RequestId': requestId,
  };
  if (embedding) {
    // Only a forced 424 gets this far as a fault: the container failing.
    if (fault) return fail(sageMakerErrors.modelError(location, errorFormat('tgi').error(500, INJECTED_FAILURE)));
    return serveEmbeddings(ctx, decoded.value, signal, {
      wire: 'tei',
      record,
      endpoint: endpointName,
      fail: (error) => fail(sageMakerErrors.modelError(location, error)),
      // The container's token count, as SageMaker hands a container's custom attributes back.
      send: (json, tokens) =>
        sendBody(res, 200, { ...headers, 'Content-Type': 'application/json', 'X-Amzn-SageMaker-Custom-Attributes': `x-compute-tokens=${tokens}` }, json),
    });
  }
  const result = prepare(decoded.value, behaviour.format, config, behaviour);
  if (!result.ok) return fail(sageMakerErrors.modelError(location, result.error));
  const { prepared } = result;
  if (prepared.request.images) ctx.received.addImages(req, prepared.request.images);
  // Only a forced 424 gets this far as a fault: the container failing, like an errorRate hit.
  const forcedContainerFailure = fault !== null;
  if (forcedContainerFailure || ctx.errorRate.hit(endpointName, behaviour.errorRate)) {
    if (!forcedContainerFailure) record.fault('errorRate');
    return fail(sageMakerErrors.modelError(location, prepared.format.error(500, INJECTED_FAILURE)));
  }

  const script = containerOutput(prepared, responseMeta(prepared, config), prepared.request.stream);
  if (operation === 'invoke') {
    const send = () => sendBody(res, 200, { ...headers, 'Content-Type': script.contentType }, wholeBody(script));
    return serveWhole(prepared, behaviour, signal, record, send);
  }
  const transport = sageMakerStreamTransport(res, headers, behaviour.payloadFraming);
  const cutMessage = (tokens: number) =>
    `Model stream error: the connection to container primary of endpoint ${endpointName} was closed before the response completed ` +
    `(${INJECTED_FAILURE}: stream cut after ${tokens} tokens).`;
  return serveStream(prepared, script, behaviour, signal, record, transport, cutMessage);
}
