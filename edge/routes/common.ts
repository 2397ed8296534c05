/**
 * What every route shares: the OpenAPI fragments for error answers and security, and the
 * middleware chain of an authenticated JSON POST (auth → content type and size → validation).
 */
import type { MiddlewareHandler } from 'hono';
import type { ZodType } from 'zod';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import type { Scope } from '../../shared/contracts/tenancy';
import type { AppEnv } from '../env';
import { auth } from '../middleware/auth';
import { jsonGuard } from '../middleware/json-body';
import type { IsolateServices } from '../services/isolate';

/** What routes receive: the isolate's services. */
export type RouteDeps = IsolateServices;

const envelope = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelopeSchema } } });

/** Error answers every authenticated inference route can give. */
export const ERROR_RESPONSES = {
  400: envelope('INVALID_INPUT: malformed JSON or a schema violation (field paths in details.issues)'),
  401: envelope('UNAUTHORIZED: missing, unknown, revoked or expired key'),
  403: envelope('FORBIDDEN: the key lacks the scope, the tenant is suspended, or the model is not enabled'),
  404: envelope('NOT_FOUND: unknown model'),
  413: envelope('INVALID_INPUT: body too large'),
  415: envelope('INVALID_INPUT: Content-Type is not application/json'),
  429: envelope('RATE_LIMITED: retry after Retry-After seconds'),
  502: envelope('UPSTREAM_ERROR: the backend failed'),
  503: envelope('UPSTREAM_ERROR: the backend is warming up or unavailable; retry after Retry-After seconds'),
  504: envelope('TIMEOUT: the backend did not answer in time'),
} as const;

export const BEARER_SECURITY = [{ bearerAuth: [] }];

/** The OpenAPI `request` of a route whose body is required JSON matching `schema`. */
export const jsonRequest = <S extends ZodType>(schema: S) => ({ body: { content: { 'application/json': { schema } }, required: true } });

/**
 * auth(scope) → content type and size checks; the body schema is validated by the route itself.
 * `vision`: the route may carry images, so a vision model's request may use the larger body cap.
 */
export function authenticatedJson(deps: RouteDeps, scope: Scope, options: { vision?: boolean } = {}): MiddlewareHandler<AppEnv>[] {
  return [auth({ scope, directory: deps.directory, now: deps.now }), jsonGuard(options)];
}

/**
 * Inference handlers answer JSON or SSE depending on the request body, which the OpenAPI route
 * typing cannot express; the documented responses above stay the contract.
 */
export const asRouteResponse = (response: Promise<Response>) => response as Promise<never>;
