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
import type { MiddlewareHandler } from 'hono';
import type { Usage } from '../../shared/contracts/infer';
import type { AppEnv } from '../env';
import { timePhase } from '../middleware/server-timing';
import { backgroundFor } from '../services/background';
import type { IsolateServices } from '../services/isolate';
import { ApiError } from '../errors';
import { admitBudget, type BudgetAdmission } from '../services/limits/budget';
import { noticeBudget } from '../services/limits/budget-notices';
import { type Admission, promptTokenEstimate, tokensToReserve } from '../services/limits/gate';
import { costMicros } from '../services/usage/prices';
import { factsCost, priceOf } from '../services/usage/record';
import { inferenceOf } from './state';

const total = (u: Usage) => u.prompt_tokens + u.completion_tokens;

export function quota(deps: Pick<IsolateServices, 'quotaGate' | 'metrics' | 'now'>): MiddlewareHandler<AppEnv> {
  return async function quota(c, next) {
    const state = inferenceOf(c);
    const { auth, config } = state.upstream;
    const later = backgroundFor(c);
    const stopTimer = timePhase(c, 'limits');
    const store = c.get('store');
    const gate = deps.quotaGate.admit({
      store,
      plan: auth.plan,
      tenantId: auth.tenantId,
      tokens: tokensToReserve(state.call.payload),
      policy: config.limits,
      background: later,
      metrics: deps.metrics,
    });
    const price = priceOf(config.routes, state.req.model);
    const maxCost = costMicros(price, {
      promptTokens: promptTokenEstimate(state.call.payload),
      completionTokens: state.call.payload.params?.max_tokens ?? auth.plan.maxTokens,
      cached: false,
    });
    // What the ledger bills this request (its facts are complete when the settlement reaches this stage).
    const billed = () => {
      const facts = c.get('usage');
      return facts ? factsCost(facts, config.routes) : maxCost;
    };
    const limit = auth.plan.monthlyBudgetMicros;
    const budget = admitBudget({ store, tenantId: auth.tenantId, limitMicros: limit, reserveMicros: maxCost, now: deps.now(), policy: config.limits });
    const notice = async (spent: number | undefined) => {
      if (limit === undefined || spent === undefined) return;
      const input = { env: c.env, store, tenantId: auth.tenantId, limitMicros: limit, spentMicros: spent, currency: config.routes.currency };
      await noticeBudget({ ...input, now: deps.now(), storeTimeoutMs: config.limits.storeTimeoutMs, background: later });
    };
    const admission = bothAdmitted(gate, budget, later)
      .finally(() => stopTimer())
      .then(({ admitted, spend }) => {
        const headers = { ...admitted.headers, ...spend?.headers };
        Object.assign(state.headers, headers);
        // Error answers after admission (an upstream failure) carry the limit headers too.
        for (const [name, value] of Object.entries(headers)) c.header(name, value);
        if (spend) state.onSettled((settlement) => later(spend.settle(settlement.kind === 'failed' ? 0 : billed()).then(notice)));
        return admitted;
      });
    state.admission = admission;
    // A refusal for the budget is its 100 % (the spend can no longer reach the limit by itself).
    admission.catch((err: unknown) => {
      if (err instanceof ApiError && err.code === 'BUDGET_EXCEEDED') later(notice(limit));
    });
    state.onSettled((settlement) => {
      if (settlement.kind === 'cut' || settlement.kind === 'replayed') return;
      const tokens = settlement.kind === 'answered' && settlement.source === 'backend' ? total(settlement.entry.usage) : 0;
      later(admission.then((admitted) => admitted.settle(tokens)));
    });
    await next();
  };
}

/** Both admissions, or the first refusal; what one side took is given back when the other refuses. */
async function bothAdmitted(
  gate: Promise<Admission>,
  budget: Promise<BudgetAdmission | undefined>,
  later: (work: Promise<unknown>) => void,
): Promise<{ admitted: Admission; spend: BudgetAdmission | undefined }> {
  const [g, b] = await Promise.allSettled([gate, budget]);
  if (g.status === 'fulfilled' && b.status === 'fulfilled') return { admitted: g.value, spend: b.value };
  if (g.status === 'fulfilled') later(g.value.settle(0));
  if (b.status === 'fulfilled' && b.value) later(b.value.settle(0));
  throw g.status === 'rejected' ? g.reason : (b as PromiseRejectedResult).reason;
}
