/**
 * The `/v1` inference path as one chain of stages, after auth and schema validation:
 *
 *   prepare → idempotency → quota → response cache → forward
 *
 * `prepare` plans the call; each stage after it is a Hono middleware that owns both its halves: what it does before `next()`, and what
 * it does once the request settles (state.ts). The chain is composed with `hono/combine`'s `every`,
 * so it runs as the route's handler, after the OpenAPI validators.
 */
import type { Context } from 'hono';
import { every } from 'hono/combine';
import type { AppEnv } from '../env';
import type { IsolateServices } from '../services/isolate';
import { timePhase } from '../middleware/server-timing';
import { forward } from './forward';
import { sha256Hex } from '../../shared/crypto/hash';
import { canonicalJson } from '../services/cache/key';
import { idempotency } from './idempotency';
import { inferenceOf } from './state';
import type { NormalizedRequest } from '../services/translate';
import { prepare } from './prepare';
import { quota } from './quota';
import { responseCache } from './response-cache';

/** Runs a normalised request through the stages; inference routes answer with its result. */
export function inferenceChain(deps: IsolateServices): (c: Context<AppEnv>, req: NormalizedRequest) => Promise<Response> {
  const idempotent = idempotency({
    now: deps.now,
    fingerprint: (c) => sha256Hex(`${c.req.path}\n${canonicalJson(inferenceOf(c).req)}`),
    onReplay: (c) => inferenceOf(c).settle({ kind: 'replayed' }),
  });
  const stages = every(idempotent, quota(deps), responseCache(deps), forward(deps));
  return async function inference(c, req) {
    const stopTimer = timePhase(c, 'route');
    await prepare(c, deps, req).finally(() => stopTimer());
    await stages(c, async () => {});
    return c.res;
  };
}
