/**
 * The shared body of every inference route: plan the call, run it or stream it, and answer in the
 * request's flavour with `X-Backend`. Routes only validate and normalise before calling this.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import type { RouteDeps } from './common';
import { complete, openStream, planCall, servedHeaders, type InferenceContext } from '../services/inference';
import { sseResponse } from '../services/sse-response';
import { streamEncoder, toResponse, type Flavour, type NormalizedRequest } from '../services/translate';

const ID_PREFIX: Record<Flavour, string> = { infer: 'inf_', chat: 'chatcmpl-', completion: 'cmpl-' };

export async function handleInference(c: Context<AppEnv>, req: NormalizedRequest, deps: RouteDeps): Promise<Response> {
  const { now } = deps;
  const started = now();
  const upstream = new AbortController();
  const ctx: InferenceContext = { config: c.get('config'), auth: c.get('auth'), requestId: c.get('requestId'), signal: upstream.signal, metrics: deps.metrics };
  const call = planCall(ctx, req);
  const meta = { id: `${ID_PREFIX[req.flavour]}${crypto.randomUUID().replaceAll('-', '')}`, model: req.model, created: Math.floor(started / 1000) };

  if (!req.stream) {
    const { result, served } = await complete(ctx, call);
    return c.json(toResponse(req.flavour, { ...meta, latencyMs: now() - started }, result), 200, servedHeaders(served));
  }
  const { events, served } = await openStream(ctx, call);
  return sseResponse(events, {
    encoder: streamEncoder(req.flavour, meta, req.includeUsage),
    elapsedMs: () => now() - started,
    headers: servedHeaders(served),
    abortUpstream: () => upstream.abort(),
  });
}
