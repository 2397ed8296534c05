/**
 * The quota stage: every request window counts the request and every token window reserves its
 * estimate (services/limits/gate.ts), from the isolate's quota leases when they have the units (no
 * store round trip), else from the store; a tenant with a monthly spend budget also reserves the
 * request's maximum cost (services/limits/budget.ts), in the same tick. It does not wait before
 * calling `next()`: when the store is needed, the response cache's L2 read is issued in the same
 * tick, so all share one pipelined round trip; the stages after it await `admission` before
 * answering. Once the request settles, the reservations move to the real usage: a backend answer's
 * tokens; 0 for a cache hit or a failure; a cut stream keeps its token reservation (the GPU time was
 * spent, and its real usage is unknown). The budget settles to what the usage ledger bills.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { Usage } from '../../shared/contracts/infer';
import type { AppEnv } from '../env';
import { timePhase } from '../middleware/server-timing';
import { backgroundFor } from '../services/background';
import type { IsolateServices } from '../services/isolate';
import { ApiError } from '../errors';
import { admitBudget, admittedWithBudget, maxCostMicros } from '../services/limits/budget';
import { noticeBudget } from '../services/limits/budget-notices';
import { type Admission, tokensToReserve } from '../services/limits/gate';
import { factsCost } from '../services/usage/record';
import { inferenceOf } from './state';

const total = (u: Usage) => u.prompt_tokens + u.completion_tokens;

/** A request admitted by {@link admitRequest}: its windows, and its budget reservation to settle. */
export interface RequestAdmission {
  readonly admitted: Admission;
  /** Moves the budget reservation to what the request really cost (0 for a failure); a no-op without a budget. */
  settleSpend(costMicros: number): void;
}

/**
 * Admits the request in every window (`tokens` reserved in the token windows) and, for a tenant with
 * a monthly spend budget, reserves `maxCostMicros` of it, timing the `limits` phase; once admitted,
 * the limit and budget headers go on the answer (error answers after admission included) and into
 * `headers`. Issued without awaiting the store, so reads started in the same tick share its round trip.
 */
export function admitRequest(
  c: Context<AppEnv>,
  deps: Pick<IsolateServices, 'quotaGate' | 'metrics' | 'now'>,
  demand: { readonly tokens: number; readonly maxCostMicros: number },
  headers: Record<string, string>,
): Promise<RequestAdmission> {
  const auth = c.get('auth');
  const config = c.get('config');
  const store = c.get('store');
  const later = backgroundFor(c);
  const stopTimer = timePhase(c, 'limits');
  const gate = deps.quotaGate.admit({
    store,
    plan: auth.plan,
    tenantId: auth.tenantId,
    tokens: demand.tokens,
    policy: config.limits,
    background: later,
    metrics: deps.metrics,
  });
  const limit = auth.plan.monthlyBudgetMicros;
  const budget = admitBudget({
    store,
    tenantId: auth.tenantId,
    limitMicros: limit,
    reserveMicros: demand.maxCostMicros,
    now: deps.now(),
    policy: config.limits,
  });
  const notice = async (spent: number | undefined) => {
    if (limit === undefined || spent === undefined) return;
    const input = { env: c.env, store, tenantId: auth.tenantId, limitMicros: limit, spentMicros: spent, currency: config.routes.currency };
    await noticeBudget({ ...input, now: deps.now(), storeTimeoutMs: config.limits.storeTimeoutMs, background: later });
  };
  const admission = admittedWithBudget(gate, budget, later).then(
    ({ admitted, spend }) => {
      // Where the limits were decided: this isolate's leases alone, a store round trip, or the outage limiter.
      stopTimer(admitted.source);
      const granted = { ...admitted.headers, ...spend?.headers };
      Object.assign(headers, granted);
      for (const [name, value] of Object.entries(granted)) c.header(name, value);
      return { admitted, settleSpend: (cost: number) => (spend ? later(spend.settle(cost).then(notice)) : undefined) };
    },
    (err: unknown) => {
      stopTimer();
      throw err;
    },
  );
  // A refusal for the budget is its 100 % (the spend can no longer reach the limit by itself).
  admission.catch((err: unknown) => {
    if (err instanceof ApiError && err.code === 'BUDGET_EXCEEDED') later(notice(limit));
  });
  return admission;
}

export function quota(deps: Pick<IsolateServices, 'quotaGate' | 'metrics' | 'now'>): MiddlewareHandler<AppEnv> {
  return async function quota(c, next) {
    const state = inferenceOf(c);
    const later = backgroundFor(c);
    const auth = c.get('auth');
    const config = c.get('config');
    const perImage = config.images.reserveTokens;
    const maxCost = maxCostMicros(config.routes, state.call.payload, auth.plan.maxTokens, perImage);
    // What the ledger bills this request (its facts are complete when the settlement reaches this stage).
    const billed = () => {
      const facts = c.get('usage');
      return facts ? factsCost(facts, config.routes) : maxCost;
    };
    const request = admitRequest(c, deps, { tokens: tokensToReserve(state.call.payload, perImage), maxCostMicros: maxCost }, state.headers);
    state.onSettled((settlement) => {
      const cost = settlement.kind === 'failed' ? 0 : billed();
      request.then(
        (r) => r.settleSpend(cost),
        () => {},
      );
    });
    const admission = request.then((r) => r.admitted);
    state.admission = admission;
    state.onSettled((settlement) => {
      if (settlement.kind === 'cut' || settlement.kind === 'replayed') return;
      const tokens = settlement.kind === 'answered' && settlement.source === 'backend' ? total(settlement.entry.usage) : 0;
      later(admission.then((admitted) => admitted.settle(tokens)));
    });
    await next();
  };
}
