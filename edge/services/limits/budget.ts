/**
 * Monthly spend budgets: a tenant's spend over the UTC calendar month (the month `YYYY-MM` is part
 * of the key, so a month never rolls into the next), two-phase like the token limits: a request
 * reserves its maximum cost (the same token estimate the token windows reserve, at the model's
 * prices) in one atomic script that refuses it when the reservation would pass the limit, and its
 * real cost — what the usage ledger bills — replaces the reservation when it settles. Only tenants
 * with a budget pay the store round trip; it is issued in the same tick as the limiters' commands.
 */
import type { BackendInferRequestInput } from '../../../shared/contracts/backend';
import { utcMonth } from '../../../shared/contracts/usage';
import { ApiError } from '../../errors';
import { awaitShared } from '../cross-request';
import { describeError, log } from '../log';
import type { RouteTable } from '../route-table';
import type { Store } from '../store';
import { costMicros } from '../usage/prices';
import { priceOf } from '../usage/record';
import { type Admission, promptTokenEstimate } from './gate';

/** Kept past the month's end, for the month's reads. */
const BUDGET_TTL_S = 40 * 86_400;

export const budgetKey = (tenantId: string, month: string) => `gw:budget:${tenantId}:${month}`;

/** KEYS[1] the month's spend; ARGV limit, reservation, TTL. Returns {admitted 0|1, spend after}. */
const RESERVE = `
local spent = tonumber(redis.call('GET', KEYS[1]) or '0')
if spent + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return {0, spent} end
local after = redis.call('INCRBY', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return {1, after}`;

/** KEYS[1] the month's spend; ARGV the change, TTL. Returns the spend after. */
const ADJUST = `
local after = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return after`;

/** What a request holds of its month's spend until it settles: kept with an async job, settled by its consumer. */
export interface BudgetReservation {
  /** The UTC month `YYYY-MM` it was reserved in (its settlement goes to that month, even after the month ends). */
  readonly month: string;
  readonly reservedMicros: number;
}

/** A request admitted under its tenant's budget. */
export interface BudgetAdmission {
  /** `X-Budget-Limit` / `X-Budget-Remaining` (micro-units of the price table's currency). */
  readonly headers: Record<string, string>;
  readonly reservation: BudgetReservation;
  /** Replaces the reservation with the real cost; never rejects; only the first call counts. Resolves to the month's spend after it (undefined when unknown). */
  settle(actualMicros: number): Promise<number | undefined>;
}

export interface BudgetInput {
  readonly store: Pick<Store, 'eval'>;
  readonly tenantId: string;
  /** The month's limit; undefined: no budget (nothing is reserved, no header is sent). */
  readonly limitMicros: number | undefined;
  readonly reserveMicros: number;
  readonly now: number;
  readonly policy: { readonly outagePolicy: 'open' | 'closed'; readonly storeTimeoutMs: number };
}

/** Seconds from `now` to the start of the next UTC month. */
export function secondsToMonthEnd(now: number): number {
  const d = new Date(now);
  return Math.max(1, Math.ceil((Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - now) / 1000));
}

/**
 * The most a request can cost: the token windows' estimate (the prompt's estimate plus `max_tokens`,
 * `maxTokens` when unset) at the model's full prices; what its budget reserves.
 */
export function maxCostMicros(table: RouteTable, payload: BackendInferRequestInput, maxTokens: number, tokensPerImage: number): number {
  return costMicros(priceOf(table, payload.model), {
    promptTokens: promptTokenEstimate(payload, tokensPerImage),
    // Every choice asked for (n × max_tokens), as the token windows reserve.
    completionTokens: (payload.params?.max_tokens ?? maxTokens) * (payload.n ?? 1),
    cached: false,
  });
}

/**
 * Replaces a reservation with the real cost in the month it was reserved in; never rejects (a
 * failure is logged: the month's spend keeps the reservation). Resolves to the spend after it.
 */
export async function settleBudget(
  store: Pick<Store, 'eval'>,
  tenantId: string,
  reservation: BudgetReservation,
  actualMicros: number,
): Promise<number | undefined> {
  const delta = Math.round(actualMicros) - reservation.reservedMicros;
  try {
    return Number(await store.eval(ADJUST, [budgetKey(tenantId, reservation.month)], [String(delta), String(BUDGET_TTL_S)]));
  } catch (err) {
    log('warn', 'budget settlement failed', { tenant_id: tenantId, delta_micros: delta, ...describeError(err) });
    return undefined;
  }
}

/** Both admissions, or the first refusal; what one side took is given back when the other refuses. */
export async function admittedWithBudget(
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

const budgetHeaders = (limit: number, spent: number) => ({ 'X-Budget-Limit': String(limit), 'X-Budget-Remaining': String(Math.max(0, limit - spent)) });

/**
 * Reserves the request's maximum cost; rejects with 429 BUDGET_EXCEEDED (Retry-After: the month's
 * end). The script is issued before this returns, so it joins the limiters' pipeline. A store
 * failure follows the outage policy: open admits without a reservation, closed is 503.
 */
export function admitBudget(input: BudgetInput): Promise<BudgetAdmission | undefined> {
  const { limitMicros: limit } = input;
  if (limit === undefined) return Promise.resolve(undefined);
  const month = utcMonth(input.now);
  const key = budgetKey(input.tenantId, month);
  const reserve = Math.max(0, Math.round(input.reserveMicros));
  const reply = input.store.eval(RESERVE, [key], [String(limit), String(reserve), String(BUDGET_TTL_S)]) as Promise<[number, number]>;
  return awaitShared(reply, input.policy.storeTimeoutMs, 'the budget store').then(
    ([admitted, spent]) => {
      const headers = budgetHeaders(limit, Number(spent));
      if (Number(admitted) !== 1) {
        const retryAfter = secondsToMonthEnd(input.now);
        throw new ApiError('BUDGET_EXCEEDED', `the monthly spend budget is used up; it renews in ${retryAfter} s (at the start of the next UTC month)`, {
          details: { retry_after: retryAfter, limit_micros: limit, spent_micros: Number(spent) },
          headers: { ...headers, 'Retry-After': String(retryAfter) },
        });
      }
      let settled = false;
      const reservation = { month, reservedMicros: reserve };
      return {
        headers,
        reservation,
        settle: async (actual: number) => {
          if (settled) return undefined;
          settled = true;
          return settleBudget(input.store, input.tenantId, reservation, actual);
        },
      };
    },
    (err: unknown) => {
      log('warn', 'budget store unavailable', { tenant_id: input.tenantId, policy: input.policy.outagePolicy, ...describeError(err) });
      if (input.policy.outagePolicy === 'closed') {
        throw new ApiError('UPSTREAM_ERROR', 'spend budgets are temporarily unavailable; retry later', {
          status: 503,
          headers: { 'Retry-After': '5' },
          cause: err,
        });
      }
      return undefined;
    },
  );
}
