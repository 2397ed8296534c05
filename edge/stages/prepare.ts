/**
 * What an inference route does before its stages, after auth and schema validation: plan the
 * upstream call of the normalised request (model, plan checks, payload), decide the cache policy
 * and key, and put it all in the context for the stages after it.
 */
import type { Context } from 'hono';
import type { AppEnv } from '../env';
import { cacheKey, cachePolicy } from '../services/cache/key';
import type { IsolateServices } from '../services/isolate';
import { backgroundFor } from '../services/background';
import type { Flavour, NormalizedRequest } from '../services/translate';
import { nextHopContext } from '../services/tracing';
import { planCall } from '../services/upstream';
import { inlineImages } from '../services/images';
import { type InferenceState, settlementHub } from './state';
import { bindUsage } from './usage';
import { routeLabel } from '../middleware/metrics';
import type { ShadowResult } from '../services/routing/shadow';
import { shadowRecord } from '../services/usage/record';
import { queueUsageRecord } from '../services/usage/send';

const ID_PREFIX: Record<Flavour, string> = { infer: 'inf_', chat: 'chatcmpl-', completion: 'cmpl-', responses: 'resp_' };

/** Plans the request and sets its {@link InferenceState} on the context. */
export async function prepare(c: Context<AppEnv>, deps: IsolateServices, req: NormalizedRequest): Promise<void> {
  const started = deps.now();
  const config = c.get('config');
  const auth = c.get('auth');
  const abort = new AbortController();
  const upstream = {
    config,
    auth,
    requestId: c.get('requestId'),
    trace: nextHopContext(c.get('trace'), config),
    signal: abort.signal,
    metrics: deps.metrics,
    health: deps.health,
    now: deps.now,
    waitUntil: backgroundFor(c),
    // A shadow call is a request of its own in the ledger, recorded when it ends and never billed.
    onShadow: (result: ShadowResult) => {
      const request = { requestId: c.get('requestId'), tenantId: auth.tenantId, keyId: auth.keyId, route: routeLabel(c), model: req.model };
      const send = queueUsageRecord(c.env, () => shadowRecord(result, request, config.routes), deps.metrics);
      if (send) backgroundFor(c)(send);
    },
  };
  const planned = planCall(upstream, req);
  // Images are inlined before the cache key is taken, so the key covers their bytes, not their URLs.
  const call = { ...planned, payload: await inlineImages(planned.payload, config.images) };
  const policy = cachePolicy(c.req.header('cache-control'), call.payload.params, config.cache);
  const key = policy.eligible ? await cacheKey(auth.tenantId, call.payload, config.cache) : undefined;
  const state: InferenceState = {
    req,
    call,
    upstream,
    abort,
    meta: { id: `${ID_PREFIX[req.flavour]}${crypto.randomUUID().replaceAll('-', '')}`, model: req.model, created: Math.floor(started / 1000) },
    started,
    cache: { policy, key },
    headers: {},
    ...settlementHub(),
  };
  // The request metrics count the tokens of an answer once it settles (a stream's at its end).
  const outcome = c.get('outcome');
  if (outcome) {
    outcome.settlement = new Promise((resolve) => state.onSettled(resolve));
    outcome.usage = outcome.settlement.then((s) => (s.kind === 'answered' ? s.entry.usage : undefined));
  }
  const usage = c.get('usage');
  if (usage) bindUsage(usage, state, deps.now);
  c.set('inference', state);
}
