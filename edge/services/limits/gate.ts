/**
 * The per-tenant quota gate: request limits and two-phase token limits over @upstash/ratelimit.
 *
 * - `admit` first asks the isolate's ephemeral block list (a tenant already over a request limit is
 *   answered 429 with no Redis round trip), then checks all five windows with one pipelined round
 *   trip (the limiters' EVALSHAs are issued in the same tick and auto-pipelined by @upstash/redis).
 * - Tokens are reserved up front (prompt estimate + `max_tokens`) and settled to the backend's real
 *   usage afterwards (`Admission.settle`): a refund or a charge of the difference, in the same window.
 * - A denied request leaves no trace: every window it incremented is refunded in the background, so
 *   denials never eat the hour or day allowance.
 * - When the store fails or exceeds `storeTimeoutMs`: a warning, the `StoreUnavailable` metric, then
 *   the outage policy (open: the in-isolate {@link LocalLimiter}; closed: 503 with Retry-After).
 */
import type { BackendInferRequestInput } from '../../../shared/contracts/backend';
import { EdgeMetric } from '../../../shared/metrics-catalog';
import type { EffectivePlan } from '../../../shared/plans';
import { estimateTokens } from '../../../shared/tokens';
import { ApiError } from '../../errors';
import { describeError, log } from '../log';
import type { MetricsRecorder } from '../metrics';
import type { Store } from '../store';
import { TtlCache } from '../ttl-cache';
import { withDeadline } from '../deadline';
import { limitHeaders, retryAfterSeconds } from './headers';
import { LocalLimiter } from './local-limiter';
import { identifierOf, limiterFor, windowsFor, type LimitWindow, type WindowState } from './windows';

/**
 * A token reservation in a form that survives a queue: what was reserved and in which token windows
 * (with their ends), so work that finishes elsewhere (an async job) can still settle it.
 */
export interface TokenReservation {
  readonly reserved: number;
  readonly windows: ReadonlyArray<{ readonly window: LimitWindow; readonly reset: number }>;
}

/** A request that passed every window. */
export interface Admission {
  /** The limit headers for the response. */
  readonly headers: Record<string, string>;
  /** Moves the reservation to the real usage (0 refunds it all). Never rejects. */
  settle(actualTokens: number): Promise<void>;
  /** The reservation, for {@link QuotaGate.settleReservation} after the request itself has ended. */
  readonly reservation: TokenReservation;
}

export interface AdmitInput {
  readonly store: Store;
  readonly plan: EffectivePlan;
  readonly tenantId: string;
  /** Tokens to reserve: prompt estimate + max_tokens. */
  readonly tokens: number;
  readonly policy: { readonly outagePolicy: 'open' | 'closed'; readonly storeTimeoutMs: number };
  /** Where background work (refunds) goes: `executionCtx.waitUntil`. */
  readonly background: (work: Promise<unknown>) => void;
  readonly metrics: MetricsRecorder;
}

export interface QuotaGateOptions {
  readonly now?: () => number;
}

export class QuotaGate {
  readonly #now: () => number;
  // Outlives a request on purpose: the ephemeral block list that spares Redis for blocked tenants.
  readonly #blocked: TtlCache<readonly WindowState[]>;
  readonly #local: LocalLimiter;

  constructor(options: QuotaGateOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#blocked = new TtlCache({ maxEntries: 10_000, ttlMs: 86_400_000, now: this.#now });
    this.#local = new LocalLimiter(this.#now);
  }

  /** The stored denial while a tenant is blocked in this isolate, else undefined. */
  blockedStates(tenantId: string): readonly WindowState[] | undefined {
    return this.#blocked.get(tenantId);
  }

  /**
   * Admits or rejects (ApiError 429, or 503 under the closed outage policy). The Redis commands are
   * issued synchronously, before this returns, so a caller may add commands to the same pipeline.
   */
  admit(input: AdmitInput): Promise<Admission> {
    const blocked = this.#blocked.get(input.tenantId);
    if (blocked) return Promise.reject(this.#denied(blocked, input, true));
    const windows = windowsFor(input.plan);
    const calls = windows.map((w) => limiterFor(input.store, w).limit(identifierOf(w, input.tenantId), { rate: w.kind === 'requests' ? 1 : input.tokens }));
    return this.#decide(input, windows, calls);
  }

  async #decide(
    input: AdmitInput,
    windows: ReturnType<typeof windowsFor>,
    calls: Promise<{ success: boolean; remaining: number; reset: number }>[],
  ): Promise<Admission> {
    let results: Awaited<(typeof calls)[number]>[];
    try {
      results = await withDeadline(Promise.all(calls), input.policy.storeTimeoutMs, 'the rate-limit store');
    } catch (err) {
      return this.#outage(input, windows, err);
    }
    const states = windows.map((window, i) => ({ window, success: results[i]!.success, remaining: results[i]!.remaining, reset: results[i]!.reset }));
    if (states.some((s) => !s.success)) {
      input.background(this.#adjust(input, states, -1, -input.tokens));
      const requestDenials = states.filter((s) => s.window.kind === 'requests' && !s.success);
      if (requestDenials.length > 0) this.#blocked.set(input.tenantId, states, Math.max(...requestDenials.map((s) => s.reset)) - this.#now());
      throw this.#denied(states, input, false);
    }
    const reservation: TokenReservation = {
      reserved: input.tokens,
      windows: states.filter((s) => s.window.kind === 'tokens').map((s) => ({ window: s.window, reset: s.reset })),
    };
    return {
      headers: limitHeaders(states, this.#now()),
      settle: (actual) => this.settleReservation(input.store, input.tenantId, reservation, actual),
      reservation,
    };
  }

  /** Moves a reservation to the real usage (0 refunds it) in the windows that have not reset since; never rejects. */
  settleReservation(store: Store, tenantId: string, reservation: TokenReservation, actualTokens: number): Promise<void> {
    if (actualTokens === reservation.reserved) return Promise.resolve();
    return this.#adjustWindows(store, tenantId, reservation.windows, 0, actualTokens - reservation.reserved);
  }

  /** Adds `requestDelta` / `tokenDelta` to each window that has not reset since; never rejects. */
  #adjust(input: AdmitInput, states: readonly WindowState[], requestDelta: number, tokenDelta: number): Promise<void> {
    return this.#adjustWindows(input.store, input.tenantId, states, requestDelta, tokenDelta);
  }

  async #adjustWindows(
    store: Store,
    tenantId: string,
    entries: ReadonlyArray<{ readonly window: LimitWindow; readonly reset: number }>,
    requestDelta: number,
    tokenDelta: number,
  ): Promise<void> {
    const now = this.#now();
    const work = entries
      .filter((s) => s.reset > now)
      .map((s) => ({ s, rate: s.window.kind === 'requests' ? requestDelta : tokenDelta }))
      .filter(({ rate }) => rate !== 0)
      .map(({ s, rate }) => limiterFor(store, s.window).limit(identifierOf(s.window, tenantId), { rate }));
    await Promise.all(work).catch((err: unknown) => log('warn', 'rate limit adjustment failed', { tenant_id: tenantId, ...describeError(err) }));
  }

  #denied(states: readonly WindowState[], input: AdmitInput, fromCache: boolean): ApiError {
    const now = this.#now();
    const retryAfter = retryAfterSeconds(states, now);
    input.metrics.count(EdgeMetric.RateLimited);
    const denied = states.filter((s) => !s.success).map((s) => `${s.window.kind} per ${s.window.name}`);
    return new ApiError('RATE_LIMITED', `rate limit exceeded (${denied.join(', ')}); retry after ${retryAfter} s`, {
      details: { retry_after: retryAfter, limits: denied, ...(fromCache ? { cached: true } : {}) },
      headers: { ...limitHeaders(states, now), 'Retry-After': String(retryAfter) },
    });
  }

  #outage(input: AdmitInput, windows: ReturnType<typeof windowsFor>, err: unknown): Admission {
    input.metrics.count(EdgeMetric.StoreUnavailable);
    log('warn', 'rate limit store unavailable', { tenant_id: input.tenantId, policy: input.policy.outagePolicy, ...describeError(err) });
    if (input.policy.outagePolicy === 'closed') {
      throw new ApiError('UPSTREAM_ERROR', 'rate limiting is temporarily unavailable; retry later', {
        status: 503,
        details: { retry_after: 5 },
        headers: { 'Retry-After': '5' },
        cause: err,
      });
    }
    const states = this.#local.admit(input.tenantId, windows, input.tokens);
    if (states.some((s) => !s.success)) throw this.#denied(states, input, false);
    return {
      headers: limitHeaders(states, this.#now()),
      settle: () => Promise.resolve(),
      reservation: { reserved: input.tokens, windows: [] },
    };
  }
}

/** Tokens a call reserves: the prompt's estimate plus the completion's `max_tokens`. */
export function tokensToReserve(payload: BackendInferRequestInput): number {
  const text = 'prompt' in payload ? payload.prompt : payload.messages.map((m) => m.content).join('\n');
  return estimateTokens(text) + (payload.params?.max_tokens ?? 0);
}
