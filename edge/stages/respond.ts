/**
 * How an inference request is answered once its content is known, in the request's flavour: JSON
 * for a sync request, SSE for a stream (live from the backend, or replayed from a cache entry).
 */
import type { Context } from 'hono';
import type { BackendInferResponse, BackendStreamEvent } from '../../shared/contracts/backend';
import type { AppEnv } from '../env';
import { responsesJson, responsesStream } from '../services/responses/answer';
import { sseResponse } from '../services/sse-response';
import { streamEncoder, toResponse } from '../services/translate';
import type { InferenceState } from './state';

/** The JSON answer of a sync request. */
export function jsonAnswer(
  c: Context<AppEnv>,
  state: InferenceState,
  result: BackendInferResponse,
  now: () => number,
  headers: Record<string, string>,
): Response | Promise<Response> {
  if (state.req.flavour === 'responses') return responsesJson(c, state.req, state.meta, result, now, { ...state.headers, ...headers });
  const body = toResponse(state.req.flavour, { ...state.meta, latencyMs: now() - state.started }, result);
  // `state.headers` are on the context already (the quota and cache stages set them with c.header).
  return c.json(body, 200, headers);
}

/** The SSE answer of a streaming request (a Response of its own, so it carries `state.headers` itself); a client that leaves aborts the upstream call. */
export function streamAnswer(
  c: Context<AppEnv>,
  state: InferenceState,
  events: AsyncGenerator<BackendStreamEvent, void, undefined>,
  now: () => number,
  headers: Record<string, string>,
): Response {
  if (state.req.flavour === 'responses') {
    const options = { now, elapsedMs: () => now() - state.started, headers: { ...state.headers, ...headers }, abortUpstream: () => state.abort.abort() };
    return responsesStream(c, state.req, state.meta, events, options);
  }
  return sseResponse(events, {
    encoder: streamEncoder(state.req.flavour, state.meta, state.req.includeUsage),
    elapsedMs: () => now() - state.started,
    headers: { ...state.headers, ...headers },
    abortUpstream: () => state.abort.abort(),
  });
}
