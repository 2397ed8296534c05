/**
 * The one place errors become responses: the envelope of shared/errors.ts with the right status,
 * `Retry-After` and friends from the error, and a log line with the request id. Unexpected errors
 * are logged by name and message only and answered as a generic INTERNAL_ERROR.
 */
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { errorEnvelope, type ErrorObject } from '../shared/errors';
import { ApiError, codeForStatus } from './errors';
import { EdgeConfigError, type AppEnv } from './env';
import { openAiError } from './services/translate';
import { describeError, log } from './services/log';
import { logIds } from './middleware/trace';

/** Routes whose clients are OpenAI SDKs: their errors also carry the `type` those SDKs read. */
const OPENAI_PATHS = /^\/v1\/(chat\/completions|completions|models|responses(\/[^/]+)?)\/?$/;

function respond(c: Context<AppEnv>, status: ContentfulStatusCode, error: ErrorObject, headers: Record<string, string> = {}) {
  const requestId = c.get('requestId') ?? 'unknown';
  const outcome = c.get('outcome');
  if (outcome) outcome.code = error.code;
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  const body = OPENAI_PATHS.test(c.req.path) ? openAiError(error) : error;
  return c.json(errorEnvelope(body, requestId), status);
}

export function onError(): ErrorHandler<AppEnv> {
  return function onError(err, c) {
    if (err instanceof ApiError) {
      // A refused request is the client's business and already counted by code in the metrics.
      const level = err.status >= 500 ? 'warn' : 'debug';
      log(level, 'request failed', {
        ...logIds(c),
        code: err.code,
        status: err.status,
        reason: err.message,
        ...(err.cause ? describeError(err.cause) : {}),
      });
      return respond(c, err.status, { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) }, err.headers);
    }
    if (err instanceof HTTPException) {
      // Hono built-ins (e.g. the JSON validator's "Malformed JSON in request body").
      const status = (err.status >= 400 ? err.status : 500) as ContentfulStatusCode;
      const code = codeForStatus(status);
      log(status >= 500 ? 'warn' : 'debug', 'request failed', { ...logIds(c), code, status, reason: err.message });
      return respond(c, status, { code, message: status < 500 ? err.message : 'internal error' });
    }
    if (err instanceof EdgeConfigError) {
      log('error', 'gateway misconfigured', { ...logIds(c), reason: err.message });
      return respond(c, 500, { code: 'INTERNAL_ERROR', message: 'the gateway is misconfigured' });
    }
    log('error', 'unhandled error', { ...logIds(c), ...describeError(err) });
    return respond(c, 500, { code: 'INTERNAL_ERROR', message: 'internal error' });
  };
}

export function notFound(): NotFoundHandler<AppEnv> {
  return function notFound(c) {
    return respond(c, 404, { code: 'NOT_FOUND', message: `no route for ${c.req.method} ${c.req.path}` });
  };
}
