/**
 * The SageMaker runtime's side of the wire, as the reference model server emulates it: error
 * responses (status, `x-amzn-ErrorType` and JSON body the AWS SDK maps to its exception classes)
 * and the `application/vnd.amazon.eventstream` frames of InvokeEndpointWithResponseStream.
 *
 * Shapes: the SDK's restJson1 deserializer picks the exception from the `x-amzn-errortype` header
 * (text before `:`), then body `code`/`__type`; members are read from the body by name
 * (node_modules/@aws-sdk/client-sagemaker-runtime/dist-cjs/index.js, @smithy/core protocols).
 * ModelError carries the container's status and body as SageMaker reports them publicly:
 * `ErrorCode` CLIENT_ERROR_FROM_MODEL / INTERNAL_FAILURE_FROM_MODEL, `Message` "Received client|server
 * error (NNN) from primary with message "…". See <CloudWatch URL> in account … for more information.".
 * A scaled-to-zero inference component answers ValidationError "Inference Component has no capacity
 * to process this request. …" (which feeds the NoCapacityInvocationFailures metric).
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { ContainerError } from './formats';

/** The account id the emulated error messages and ARNs use. */
export const EMULATED_ACCOUNT_ID = '000000000000';

/** The exceptions this server emits (ThrottlingException is not modelled by the SDK: it surfaces as SageMakerRuntimeServiceException named so). */
export type SageMakerErrorName =
  | 'ValidationError'
  | 'ModelError'
  | 'ThrottlingException'
  | 'ModelNotReadyException'
  | 'ServiceUnavailable'
  | 'InternalFailure'
  | 'InternalDependencyException'
  | 'UnknownOperationException';

/** An error response of the SageMaker runtime. */
export interface SageMakerErrorResponse {
  readonly name: SageMakerErrorName;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
}

/** The message of a scaled-to-zero inference component, as SageMaker words it. */
export const NO_CAPACITY_MESSAGE =
  'Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress (if configured) ' +
  'or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API.';

function errorResponse(name: SageMakerErrorName, status: number, body: Record<string, unknown>, retryAfterSeconds?: number): SageMakerErrorResponse {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'x-amzn-ErrorType': `${name}:http://internal.amazon.com/coral/com.amazon.sagemaker/`,
  };
  if (retryAfterSeconds !== undefined) headers['Retry-After'] = String(retryAfterSeconds);
  return { name, status, headers, body };
}

/** Where the endpoint's container logs would be. */
export interface EndpointLocation {
  readonly endpointName: string;
  readonly region: string;
}

function logGroup({ endpointName }: EndpointLocation): string {
  return `/aws/sagemaker/Endpoints/${endpointName}`;
}

/** Error responses by exception, with the status codes the SDK models for each. */
export const sageMakerErrors = {
  validation: (message: string) => errorResponse('ValidationError', 400, { Message: message }),
  /** Scaled to zero: no copy of the inference component is running yet. */
  noCapacity: (retryAfterSeconds: number) => errorResponse('ValidationError', 400, { Message: NO_CAPACITY_MESSAGE }, retryAfterSeconds),
  modelNotReady: (retryAfterSeconds: number) =>
    errorResponse('ModelNotReadyException', 429, { Message: 'Model is not ready: the endpoint is provisioning capacity. Retry later.' }, retryAfterSeconds),
  throttling: (retryAfterSeconds: number) => errorResponse('ThrottlingException', 429, { Message: 'Rate exceeded' }, retryAfterSeconds),
  serviceUnavailable: (retryAfterSeconds: number) =>
    errorResponse('ServiceUnavailable', 503, { Message: 'The service is unavailable. Please try again later.' }, retryAfterSeconds),
  internalFailure: () => errorResponse('InternalFailure', 500, { Message: 'An internal failure occurred. Please try again.' }),
  internalDependency: () => errorResponse('InternalDependencyException', 530, { Message: 'Your request caused an exception with an internal dependency.' }),
  unknownOperation: () => errorResponse('UnknownOperationException', 404, { Message: 'The requested operation is not supported by the SageMaker runtime.' }),
  /** The container answered `error.status`: SageMaker wraps it as ModelError (HTTP 424). */
  modelError(location: EndpointLocation, error: ContainerError): SageMakerErrorResponse {
    const { region } = location;
    const side = error.status < 500 ? 'client' : 'server';
    const logsUrl = `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#logEventViewer:group=${logGroup(location)}`;
    return errorResponse('ModelError', 424, {
      ErrorCode: error.status < 500 ? 'CLIENT_ERROR_FROM_MODEL' : 'INTERNAL_FAILURE_FROM_MODEL',
      LogStreamArn: `arn:aws:logs:${region}:${EMULATED_ACCOUNT_ID}:log-group:${logGroup(location)}`,
      Message: `Received ${side} error (${error.status}) from primary with message "${error.body}". See ${logsUrl} in account ${EMULATED_ACCOUNT_ID} for more information.`,
      OriginalMessage: error.body,
      OriginalStatusCode: error.status,
    });
  },
};

/** The region a SigV4 `Authorization` header was signed for (`Credential=AKID/date/REGION/sagemaker/aws4_request`). */
export function signedRegion(authorization: string | undefined): string {
  return /Credential=[^/]+\/\d{8}\/([a-z0-9-]+)\//.exec(authorization ?? '')?.[1] ?? 'us-east-1';
}

// Stateless once built; one codec serves every stream.
const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** A PayloadPart event carrying `bytes` (raw container output). */
export function payloadPartFrame(bytes: Uint8Array): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: 'PayloadPart' },
      ':content-type': { type: 'string', value: 'application/octet-stream' },
    },
    body: bytes,
  });
}

/**
 * A ModelStreamError exception frame; the SDK throws it from the `Body` iterator. `errorCode` is
 * `StreamBroken` (container connection closed) or `ModelInvocationTimeExceeded`.
 */
export function modelStreamErrorFrame(message: string, errorCode: 'StreamBroken' | 'ModelInvocationTimeExceeded'): Uint8Array {
  return codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'exception' },
      ':exception-type': { type: 'string', value: 'ModelStreamError' },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(JSON.stringify({ Message: message, ErrorCode: errorCode })),
  });
}

/** Where to split `bytes` in two: inside the first multi-byte UTF-8 sequence if any, else the middle. */
function splitPoint(bytes: Uint8Array): number {
  const lead = bytes.findIndex((b) => b >= 0xc0);
  return lead >= 0 && lead + 1 < bytes.length ? lead + 1 : Math.floor(bytes.length / 2);
}

/**
 * Groups container output into PayloadPart bodies per {@link PayloadFraming}: `event` one part per
 * event, `split` each event in two parts (a UTF-8 sequence may straddle them), `coalesce` two events
 * per part. Call {@link PayloadFramer.flush} before ending or failing the stream.
 */
export class PayloadFramer {
  private pending: Uint8Array[] = [];

  constructor(private readonly framing: 'event' | 'split' | 'coalesce') {}

  /** The parts to send now for one event's bytes. */
  push(bytes: Uint8Array): Uint8Array[] {
    if (this.framing === 'event' || bytes.length === 0) return [bytes];
    if (this.framing === 'split') {
      const at = splitPoint(bytes);
      return at > 0 && at < bytes.length ? [bytes.subarray(0, at), bytes.subarray(at)] : [bytes];
    }
    this.pending.push(bytes);
    return this.pending.length >= 2 ? this.flush() : [];
  }

  /** Whatever is still held back, as one part. */
  flush(): Uint8Array[] {
    if (this.pending.length === 0) return [];
    const joined = Buffer.concat(this.pending);
    this.pending = [];
    return [joined];
  }
}
