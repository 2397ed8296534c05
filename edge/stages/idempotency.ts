/**
 * The idempotency stage, first after `prepare`: a request whose Idempotency-Key already answered is
 * replayed before limits and cache (a replay costs no request allowance and no backend call); a
 * different body under the same key, or one still in progress, is 409 (middleware/idempotency.ts).
 */
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../../shared/crypto/hash';
import type { AppEnv } from '../env';
import { claimIdempotency } from '../middleware/idempotency';
import { canonicalJson } from '../services/cache/key';
import { inferenceOf } from './state';

export function idempotencyClaim(): MiddlewareHandler<AppEnv> {
  return async function idempotencyClaim(c, next) {
    const state = inferenceOf(c);
    const replay = await claimIdempotency(c, c.get('store'), state.upstream.auth.tenantId, () => sha256Hex(`${c.req.path}\n${canonicalJson(state.req)}`));
    if (replay) {
      state.settle({ kind: 'replayed' });
      return replay;
    }
    await next();
  };
}
