/**
 * The shared body of every inference route: plan the call, run it or stream it, and answer in the
 * request's flavour with `X-Backend`. Routes only validate and normalise before calling this; limits,
 * idempotency, the response cache and coalescing run in ./inference-pipeline.ts.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import type { RouteDeps } from './common';
import { runInferencePipeline } from './inference-pipeline';
import { planCall, type InferenceContext } from '../services/inference';
import { backgroundFor } from '../services/background';
import type { Flavour, NormalizedRequest } from '../services/translate';

const ID_PREFIX: Record<Flavour, string> = { infer: 'inf_', chat: 'chatcmpl-', completion: 'cmpl-' };

export async function handleInference(c: Context<AppEnv>, req: NormalizedRequest, deps: RouteDeps): Promise<Response> {
  const { now } = deps;
  const started = now();
  const upstream = new AbortController();
  const ctx: InferenceContext = {
    config: c.get('config'),
    auth: c.get('auth'),
    requestId: c.get('requestId'),
    signal: upstream.signal,
    metrics: deps.metrics,
    now: deps.now,
    waitUntil: backgroundFor(c),
  };
  const call = planCall(ctx, req);
  const meta = { id: `${ID_PREFIX[req.flavour]}${crypto.randomUUID().replaceAll('-', '')}`, model: req.model, created: Math.floor(started / 1000) };

  // Limits, idempotency, cache and coalescing (issue 4) wrap the call: see inference-pipeline.ts.
  return runInferencePipeline(c, req, deps, { ctx, call, meta, started, upstream });
}
