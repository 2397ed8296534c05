/**
 * One usage record from what the request's stages recorded (facts.ts) and how it was answered:
 * pure, so the pricing rules are tested without a request. A replay, a shadow call and a refusal
 * are never billed; a cache hit is billed at the model's cached rates; anything else at its own.
 */
import { CACHE_HITS, type UsageRecord } from '../../../shared/contracts/usage';
import { ulid } from '../../../shared/ulid';
import type { RouteTable } from '../route-table';
import type { ShadowResult } from '../routing/shadow';
import type { UsageFacts } from './facts';
import { costMicros, type Price } from './prices';

export interface Answered {
  readonly requestId: string;
  readonly tenantId: string;
  readonly keyId: string;
  /** The matched route pattern. */
  readonly route: string;
  readonly status: number;
  readonly errorCode: string | undefined;
  /** The `X-Backend` / `X-Variant` the answer carried ('' when none). */
  readonly backend: string;
  readonly variant: string;
  /** When the request ended (ms): its stream's end, or when the client left. */
  readonly endedAt: number;
  readonly shadow?: boolean;
}

/** The price of a model in the table, if it has one. */
export function priceOf(table: RouteTable | undefined, model: string): Price | undefined {
  return table && Object.hasOwn(table.models, model) ? table.models[model]?.price : undefined;
}

/**
 * What the facts of a request cost when it is billed: a hit at the cached rates; a PARTIAL answer
 * (embeddings with some inputs cached) the inputs its backend embedded at the full rates and the
 * cached rest at the cached ones, with the per-request fee once, at the full rate.
 */
export function factsCost(facts: UsageFacts, table: RouteTable | undefined): number {
  const cache = facts.cache ?? 'BYPASS';
  const price = priceOf(table, facts.model ?? '');
  const promptTokens = facts.promptTokens ?? 0;
  const completionTokens = facts.completionTokens ?? 0;
  if (cache === 'PARTIAL' && price) {
    const sent = Math.min(promptTokens, facts.backendPromptTokens ?? 0);
    const full = costMicros(price, { promptTokens: sent, completionTokens, cached: false });
    const rest = costMicros({ ...price, cached: { ...price.cached, perRequest: 0 } }, { promptTokens: promptTokens - sent, completionTokens: 0, cached: true });
    return full + rest;
  }
  return costMicros(price, { promptTokens, completionTokens, cached: CACHE_HITS.has(cache) });
}

/** The record of a request; `table` supplies the model's price and the currency. */
export function usageRecord(facts: UsageFacts, answered: Answered, table: RouteTable | undefined): UsageRecord {
  const model = facts.model ?? '';
  const cache = facts.cache ?? 'BYPASS';
  const promptTokens = facts.promptTokens ?? 0;
  const completionTokens = facts.completionTokens ?? 0;
  const billed = answered.status < 400 && facts.replayOf === undefined && !answered.shadow;
  const endedAt = Math.max(answered.endedAt, facts.startedAt);
  return {
    record_id: facts.recordId,
    request_id: answered.requestId,
    tenant_id: answered.tenantId,
    key_id: answered.keyId,
    model,
    route: answered.route,
    backend: answered.backend,
    variant: answered.variant,
    status: answered.status,
    error_code: answered.errorCode ?? null,
    cache,
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    backend_prompt_tokens: facts.backendPromptTokens ?? 0,
    backend_completion_tokens: facts.backendCompletionTokens ?? 0,
    n: facts.n ?? 1,
    stream: facts.stream ?? false,
    ttft_ms: facts.firstTokenAt === undefined ? null : Math.max(0, Math.round(facts.firstTokenAt - facts.startedAt)),
    latency_ms: Math.round(endedAt - facts.startedAt),
    started_at: new Date(facts.startedAt).toISOString(),
    ended_at: new Date(endedAt).toISOString(),
    cost_micros: billed ? factsCost(facts, table) : 0,
    currency: table?.currency ?? 'USD',
    ...(facts.replayOf !== undefined ? { replay_of: facts.replayOf } : {}),
    ...(answered.shadow ? { shadow: true as const } : {}),
  };
}

/** The record of a shadow call: its own record id, the request's id, what its backend spent; never billed. */
export function shadowRecord(
  result: ShadowResult,
  request: { readonly requestId: string; readonly tenantId: string; readonly keyId: string; readonly route: string; readonly model: string },
  table: RouteTable | undefined,
): UsageRecord {
  const facts: UsageFacts = {
    recordId: ulid(result.startedAt),
    startedAt: result.startedAt,
    model: request.model,
    stream: false,
    cache: 'BYPASS',
    promptTokens: result.usage?.prompt_tokens ?? 0,
    completionTokens: result.usage?.completion_tokens ?? 0,
    backendPromptTokens: result.usage?.prompt_tokens ?? 0,
    backendCompletionTokens: result.usage?.completion_tokens ?? 0,
  };
  const { model: _model, ...who } = request;
  return usageRecord(
    facts,
    { ...who, status: result.status, errorCode: result.code, backend: result.backend, variant: 'shadow', endedAt: result.endedAt, shadow: true },
    table,
  );
}
