/**
 * The quota stage: every request window counts the request and every token window reserves its
 * estimate (services/limits/gate.ts), from the isolate's quota leases when they have the units (no
 * store round trip), else from the store. It does not wait before calling `next()`: when the store
 * is needed, the response cache's L2 read is issued in the same tick, so both share one pipelined round trip; the
 * stages after it await `admission` before answering. Once the request settles, the reservation
 * moves to the real usage: a backend answer's tokens; 0 for a cache hit or a failure; a cut stream
 * keeps it (the GPU time was spent, and its real usage is unknown).
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Usage } from '../../shared/contracts/infer';
import type { AppEnv } from '../env';
import { timePhase } from '../middleware/server-timing';
import { backgroundFor } from '../services/background';
import type { IsolateServices } from '../services/isolate';
import { type Admission, tokensToReserve } from '../services/limits/gate';
import { inferenceOf } from './state';

const total = (u: Usage) => u.prompt_tokens + u.completion_tokens;

/**
 * Admits the request in every window (`tokens` reserved in the token windows), timing the `limits`
 * phase; once admitted, the limit headers go on the answer (error answers after admission included)
 * and into `headers`. Issued without awaiting the store, so reads started in the same tick share its
 * round trip.
 */
export function admitRequest(
  c: Context<AppEnv>,
  deps: Pick<IsolateServices, 'quotaGate' | 'metrics'>,
  tokens: number,
  headers: Record<string, string>,
): Promise<Admission> {
  const auth = c.get('auth');
  const config = c.get('config');
  const stopTimer = timePhase(c, 'limits');
  return deps.quotaGate
    .admit({
      store: c.get('store'),
      plan: auth.plan,
      tenantId: auth.tenantId,
      tokens,
      policy: config.limits,
      background: backgroundFor(c),
      metrics: deps.metrics,
    })
    .finally(() => stopTimer())
    .then((admitted) => {
      Object.assign(headers, admitted.headers);
      for (const [name, value] of Object.entries(admitted.headers)) c.header(name, value);
      return admitted;
    });
}

export function quota(deps: Pick<IsolateServices, 'quotaGate' | 'metrics'>): MiddlewareHandler<AppEnv> {
  return async function quota(c, next) {
    const state = inferenceOf(c);
    const later = backgroundFor(c);
    const admission = admitRequest(c, deps, tokensToReserve(state.call.payload), state.headers);
    state.admission = admission;
    state.onSettled((settlement) => {
      if (settlement.kind === 'cut' || settlement.kind === 'replayed') return;
      const tokens = settlement.kind === 'answered' && settlement.source === 'backend' ? total(settlement.entry.usage) : 0;
      later(admission.then((admitted) => admitted.settle(tokens)));
    });
    await next();
  };
}
