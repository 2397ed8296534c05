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
import { forward } from './forward';
import { idempotencyClaim } from './idempotency';
import type { NormalizedRequest } from '../services/translate';
import { prepare } from './prepare';
import { quota } from './quota';
import { responseCache } from './response-cache';

/** Runs a normalised request through the stages; inference routes answer with its result. */
export function inferenceChain(deps: IsolateServices): (c: Context<AppEnv>, req: NormalizedRequest) => Promise<Response> {
  const stages = every(idempotencyClaim(), quota(deps), responseCache(deps), forward(deps));
  return async function inference(c, req) {
    await prepare(c, deps, req);
    await stages(c, async () => {});
    return c.res;
  };
}
