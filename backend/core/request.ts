/**
 * The adapter's one route, `POST` {@link INVOKE_PATH}, as a Function URL event: method and path checked, body
 * decoded (base64 when the URL says so) and validated against the edge↔backend contract.
 */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import type * as z from 'zod';
import { BackendInferRequestSchema, type BackendInferRequest } from '../../shared/contracts/backend';
import { INVOKE_PATH, REQUEST_ID_HEADER } from '../../shared/contracts/boundary';
import { BadRequestError, NotFoundError } from './errors';

/** Decodes and validates an invoke call; throws AdapterError (404, 405, 400) otherwise. */
export function parseInvokeEvent(event: LambdaFunctionURLEvent): BackendInferRequest {
  const method = event.requestContext.http.method;
  if (event.rawPath !== INVOKE_PATH) throw new NotFoundError(`no route for ${method} ${event.rawPath}`);
  const json = postedJson(event);
  const parsed = BackendInferRequestSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new BadRequestError(`invalid invoke request: ${describeProblem(json)}`);
}

/** The parsed JSON body of a POST (base64-decoded when the URL says so); BadRequestError: 405 for another method, 400 for bad JSON. */
function postedJson(event: LambdaFunctionURLEvent): unknown {
  if (event.requestContext.http.method !== 'POST') throw new BadRequestError(`use POST for ${event.rawPath}`, {}, 405);
  const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : (event.body ?? '');
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError('request body is not valid JSON');
  }
}

/** The first problem, read against the branch the body was meant for (prompt or messages). */
function describeProblem(json: unknown): string {
  const has = (key: string) => typeof json === 'object' && json !== null && Object.hasOwn(json, key);
  if (has('prompt') && has('messages')) return 'give either prompt or messages, not both';
  const [promptBranch, messagesBranch] = BackendInferRequestSchema.options;
  const result = (has('messages') ? messagesBranch : promptBranch).safeParse(json);
  const issue = result.success ? undefined : result.error.issues[0];
  return issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unexpected shape';
}

/** The request id for logs before (or without) a valid body: the edge's request-id header. */
export function headerRequestId(event: LambdaFunctionURLEvent): string | undefined {
  const value = event.headers?.[REQUEST_ID_HEADER];
  return value && value.length <= 128 ? value : undefined;
}

/**
 * The JSON body of a POST to one of the adapter's other paths (relay, embeddings), validated against
 * `schema`; throws BadRequestError (405 for another method, 400 naming the first bad field).
 */
export function parsePostedJson<S extends z.ZodType>(event: LambdaFunctionURLEvent, schema: S, what: string): z.infer<S> {
  const parsed = schema.safeParse(postedJson(event));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new BadRequestError(`invalid ${what}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'unexpected shape'}`);
}
