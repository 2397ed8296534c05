/**
 * The adapter's HTTP surface as a plain function: a Function URL event in, `{statusCode, headers,
 * body}` out. `POST /invoke` with the edge↔backend contract; everything else is refused in the
 * error shape the edge understands. Transport-free, so tests call it without Lambda.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { BackendInferRequestSchema, type BackendError, type BackendInferRequest, type BackendInferResponse } from '../../shared/contracts/backend';
import { AdapterError } from './errors';

export interface AdapterResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface HandleInvokeDeps {
  /** Runs one inference; throws AdapterError for expected failures. */
  readonly invoke: (req: BackendInferRequest) => Promise<BackendInferResponse>;
  /** Told about every failure, with the error (for logs and metrics). */
  readonly onError?: (err: unknown, req: BackendInferRequest | undefined) => void;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function errorResponse(err: AdapterError): AdapterResponse {
  const body: BackendError = {
    error: { code: err.code, message: err.message, ...(err.reason ? { details: { reason: err.reason } } : {}) },
  };
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (err.retryAfterSeconds !== undefined) headers['retry-after'] = String(err.retryAfterSeconds);
  return { statusCode: err.status, headers, body: JSON.stringify(body) };
}

/** Decodes and validates the request body of an `/invoke` call. */
export function parseInvokeEvent(event: LambdaFunctionURLEvent): BackendInferRequest {
  const method = event.requestContext.http.method;
  if (event.rawPath !== '/invoke') throw new AdapterError('NOT_FOUND', 404, `no route for ${method} ${event.rawPath}`);
  if (method !== 'POST') throw new AdapterError('INVALID_INPUT', 405, `use POST for ${event.rawPath}`);
  const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AdapterError('INVALID_INPUT', 400, 'request body is not valid JSON');
  }
  const parsed = BackendInferRequestSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new AdapterError('INVALID_INPUT', 400, `invalid invoke request${first ? ` at ${first.path.join('.') || '(root)'}: ${first.message}` : ''}`);
  }
  return parsed.data;
}

/** Handles one Function URL request. Never throws. */
export async function handleInvoke(event: LambdaFunctionURLEvent, deps: HandleInvokeDeps): Promise<AdapterResponse> {
  let req: BackendInferRequest | undefined;
  try {
    req = parseInvokeEvent(event);
    const result = await deps.invoke(req);
    return { statusCode: 200, headers: { ...JSON_HEADERS }, body: JSON.stringify(result) };
  } catch (err) {
    deps.onError?.(err, req);
    if (err instanceof AdapterError) return errorResponse(err);
    return errorResponse(new AdapterError('INTERNAL_ERROR', 500, 'the adapter failed unexpectedly'));
  }
}
