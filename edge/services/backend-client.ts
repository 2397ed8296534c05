/**
 * Calls a backend adapter's Function URL, SigV4-signed for the `lambda` service with aws4fetch, and
 * turns its answer into a typed result or an ApiError. Never lets an upstream body reach a client.
 */
import { AwsClient } from 'aws4fetch';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  BackendErrorSchema,
  BackendInferResponseSchema,
  type BackendInferRequestInput,
  type BackendInferResponse,
} from '../../shared/contracts/backend';
import { ApiError } from '../errors';
import type { Config } from '../env';
import type { Backend } from './route-table';

// One signer per isolate and credential set: it only holds the keys and a derived-key cache.
const signers = new Map<string, AwsClient>();

function signerFor(aws: Config['aws']): AwsClient {
  const id = `${aws.accessKeyId}\n${aws.region}\n${aws.sessionToken ?? ''}`;
  let signer = signers.get(id);
  if (!signer) {
    signer = new AwsClient({
      accessKeyId: aws.accessKeyId,
      secretAccessKey: aws.secretAccessKey,
      sessionToken: aws.sessionToken,
      region: aws.region,
      service: 'lambda',
      retries: 0,
    });
    signers.set(id, signer);
  }
  return signer;
}

/** Path on every adapter's Function URL that runs one inference. */
export const ADAPTER_INVOKE_PATH = '/invoke';

export interface InvokeOptions {
  readonly aws: Config['aws'];
  readonly timeoutMs: number;
}

/** Runs one non-streaming inference on `backend`. Throws ApiError on every failure. */
export async function invokeBackend(
  backend: Backend,
  payload: BackendInferRequestInput,
  options: InvokeOptions,
): Promise<BackendInferResponse> {
  const url = new URL(ADAPTER_INVOKE_PATH, backend.url).toString();
  let response: Response;
  try {
    response = await signerFor(options.aws).fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': payload.request_id },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      throw new ApiError('TIMEOUT', `backend ${backend.name} did not answer within ${options.timeoutMs} ms`, { cause: err });
    }
    throw new ApiError('UPSTREAM_ERROR', `backend ${backend.name} is unreachable`, { status: 503, headers: { 'Retry-After': '1' }, cause: err });
  }
  const body = await response.json().catch(() => undefined);
  if (response.ok) {
    const parsed = BackendInferResponseSchema.safeParse(body);
    if (parsed.success) return parsed.data;
    throw new ApiError('UPSTREAM_ERROR', `backend ${backend.name} returned an invalid response`);
  }
  throw backendFailure(backend, response, body);
}

/** Maps an adapter's error answer to an ApiError, keeping its code and Retry-After but no raw body. */
function backendFailure(backend: Backend, response: Response, body: unknown): ApiError {
  const retryAfter = response.headers.get('retry-after');
  const headers: Record<string, string> = retryAfter && /^\d{1,5}$/.test(retryAfter) ? { 'Retry-After': retryAfter } : {};
  const parsed = BackendErrorSchema.safeParse(body);
  if (parsed.success && response.status >= 400 && response.status < 600) {
    const { code, message, details } = parsed.data.error;
    return new ApiError(code, message, { status: response.status as ContentfulStatusCode, details, headers });
  }
  // Function URL auth failures and anything unparseable: the client sees a gateway problem, not AWS's text.
  return new ApiError('UPSTREAM_ERROR', `backend ${backend.name} failed (HTTP ${response.status})`, { status: 502, headers });
}
