/**
 * The per-tenant quota gate: request limits and two-phase token limits over @upstash/ratelimit,
 * admitted from the isolate's quota leases (lease.ts).
 *
 * - `admit` first asks the isolate's ephemeral block list (block-list.ts: a tenant already over a
 *   request limit is answered 429 with no store round trip), then takes the request's units from
 *   the lease of each of the five windows: a warm tenant's request is admitted without touching the
 *   store; a window that lacks units asks the store, and the windows that do so issue their
 *   commands in the same tick (auto-pipelined by @upstash/redis into one round trip).
 * - Tokens are reserved up front (prompt estimate + `max_tokens`) and settled to the backend's real
 *   usage afterwards (`Admission.settle`): unused tokens go back to the lease (or to the store once
 *   the lease has moved on), extra usage is charged, always in the window it was reserved in.
 * - A denied request leaves no trace: the units it took from other windows go back to their leases.
 * - When the store fails or exceeds `storeTimeoutMs`: a warning, the `StoreUnavailable` metric, then
 *   the outage policy (open: the in-isolate {@link LocalLimiter}, counting on from what the store
 *   last said was used in the window; closed: 503 with Retry-After). A request queued behind a
 *   store that keeps answering its lease is not in an outage: it waits on, and is refused with 503
 *   rather than admitted locally when it still cannot be decided, so a burst on a slow store stays
 *   within the limit across locations.
 */
import type { BackendInferRequestInput } from '../../../shared/contracts/backend';
import { EdgeMetric } from '../../../shared/metrics-catalog';
import type { EffectivePlan } from '../../../shared/plans';
import { estimateTokens } from '../../../shared/tokens';
import { ApiError } from '../../errors';
import { imageCount } from '../images';
import { awaitShared } from '../cross-request';
import { describeError, log } from '../log';
import type { MetricsRecorder } from '../metrics';
import type { Store } from '../store';
import { BlockList } from './block-list';
import { limitHeaders, retryAfterSeconds } from './headers';
import { type Grant, isGrant, type LeaseClock, type LeaseIo, type PendingTake, realClock, type TakeOutcome } from './lease';
import { LeaseBook } from './lease-book';
import { checkLeasePolicy, DEFAULT_LEASE_POLICY, type LeasePolicy } from './lease-sizing';
import { LocalLimiter } from './local-limiter';
import { afterDeadline, QUEUE_PATIENCE } from './take-wait';
import { identifierOf, limiterFor, type LimitWindow, type WindowState, windowsFor } from './windows';

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
  /** Moves the reservation to the real usage (0 refunds it all). Never rejects; only the first call counts. */
  settle(actualTokens: number): Promise<void>;
  /** The reservation, for {@link QuotaGate.settleReservation} after the request itself has ended. */
  readonly reservation: TokenReservation;
  /** Where the decision came from: this isolate's leases alone, a store round trip, or the outage limiter. */
  readonly source: 'lease' | 'store' | 'local';
}

export interface AdmitInput {
  readonly store: Store;
  readonly plan: EffectivePlan;
  readonly tenantId: string;
  /** Tokens to reserve: prompt estimate + max_tokens. */
  readonly tokens: number;
  readonly policy: { readonly outagePolicy: 'open' | 'closed'; readonly storeTimeoutMs: number };
  /** Where background work (refills, returns, refunds) goes: `executionCtx.waitUntil`. */
  readonly background: (work: Promise<unknown>) => void;
  readonly metrics: MetricsRecorder;
}

export interface QuotaGateOptions {
  /** Clock in ms; the store derives its buckets from the real one, so only tests change it. */
  readonly now?: () => number;
  /** Timer for the leases' idle watch. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Lease sizing and idle return; {@link DEFAULT_LEASE_POLICY} for what is not given. */
  readonly lease?: Partial<LeasePolicy>;
  /** Store deadlines a request waits behind a store that keeps answering before its 503 ({@link QUEUE_PATIENCE}). */
  readonly queuePatience?: number;
}

export class QuotaGate {
  readonly #now: () => number;
  readonly #blocked: BlockList;
  // Both outlive a request on purpose: the leases are what spares the store, the local limiter is
  // the limit while the store is down.
  readonly #leases: LeaseBook;
  readonly #local: LocalLimiter;
  readonly #patience: number;

  constructor(options: QuotaGateOptions = {}) {
    this.#now = options.now ?? realClock.now;
    this.#patience = options.queuePatience ?? QUEUE_PATIENCE;
    const clock: LeaseClock = { now: this.#now, sleep: options.sleep ?? realClock.sleep };
    this.#blocked = new BlockList(this.#now);
    this.#leases = new LeaseBook(checkLeasePolicy({ ...DEFAULT_LEASE_POLICY, ...options.lease }), clock);
    this.#local = new LocalLimiter(this.#now);
  }

  /** The stored denial while a tenant is blocked in this isolate, else undefined. */
  blockedStates(tenantId: string): readonly WindowState[] | undefined {
    return this.#blocked.peek(tenantId);
  }

  /**
   * Admits or rejects (ApiError 429, or 503 under the closed outage policy). Resolves at once when
   * the leases have the units; any store command is issued synchronously, before this returns, so a
   * caller may add commands to the same pipeline.
   */
  admit(input: AdmitInput): Promise<Admission> {
    const windows = windowsFor(input.plan);
    const blocked = this.#blocked.get(input.tenantId, windows);
    if (blocked) return Promise.reject(this.#denied(blocked, input, true));
    const io = ioFor(input);
    const takes = windows.map((window) => this.#leases.lease(input.store, input.tenantId, window).take(window, unitsOf(window, input.tokens), io));
    const grants = takes.filter(isGrant);
    if (grants.length === takes.length) return Promise.resolve(this.#admitted(input, windows, grants, io, 'lease'));
    return this.#await(input, windows, takes, io);
  }

  async #await(input: AdmitInput, windows: readonly LimitWindow[], takes: ReadonlyArray<Grant | PendingTake>, io: LeaseIo): Promise<Admission> {
    const timeoutMs = input.policy.storeTimeoutMs;
    const all = Promise.all(takes.map((t): TakeOutcome | Promise<TakeOutcome> => (isGrant(t) ? { granted: true, grant: t } : t.outcome)));
    const since = this.#now();
    let outcomes: TakeOutcome[];
    for (;;) {
      try {
        // Another request's store command may serve these takes: wait for it without awaiting its promise.
        outcomes = await awaitShared(all, timeoutMs, 'the rate-limit store');
        break;
      } catch (err) {
        const next = afterDeadline(takes, err, this.#now() - since, timeoutMs, this.#patience);
        if (next.next === 'decided') {
          outcomes = next.outcomes;
          break;
        }
        if (next.next === 'wait') continue;
        // Nothing taken stays taken: a withdrawn take gives back what it may have been handed meanwhile.
        for (const t of takes) {
          if (isGrant(t)) input.background(t.lease.giveBack(t, t.units, io));
          else t.cancel();
        }
        if (next.next === 'busy') throw this.#busy(input, err);
        return this.#outage(input, windows, err);
      }
    }
    const grants = outcomes.flatMap((o) => (o.granted ? [o.grant] : []));
    if (grants.length === outcomes.length) return this.#admitted(input, windows, grants, io, 'store');
    for (const g of grants) input.background(g.lease.giveBack(g, g.units, io));
    const states = windows.map((window, i): WindowState => {
      const o = outcomes[i]!;
      return o.granted
        ? { window, success: true, remaining: o.grant.lease.remaining(), reset: o.grant.reset }
        : { window, success: false, remaining: 0, reset: o.reset };
    });
    this.#blocked.refuse(input.tenantId, states);
    throw this.#denied(states, input, false);
  }

  #admitted(input: AdmitInput, windows: readonly LimitWindow[], grants: readonly Grant[], io: LeaseIo, source: Admission['source']): Admission {
    const states = windows.map((window, i): WindowState => ({ window, success: true, remaining: grants[i]!.lease.remaining(), reset: grants[i]!.reset }));
    const tokens = windows.flatMap((window, i) => (window.kind === 'tokens' ? [{ window, grant: grants[i]! }] : []));
    const reservation: TokenReservation = { reserved: input.tokens, windows: tokens.map(({ window, grant }) => ({ window, reset: grant.reset })) };
    let settled = false;
    return {
      headers: limitHeaders(states, this.#now()),
      reservation,
      source,
      settle: async (actual) => {
        if (settled || actual === input.tokens) return;
        settled = true;
        const delta = actual - input.tokens;
        await Promise.all(tokens.map(({ grant: g }) => (delta < 0 ? g.lease.giveBack(g, -delta, io) : g.lease.charge(g, delta, io))));
      },
    };
  }

  /** Moves a reservation to the real usage (0 refunds it) in the store, in the windows that have not reset since; never rejects. */
  async settleReservation(store: Store, tenantId: string, reservation: TokenReservation, actualTokens: number): Promise<void> {
    const delta = actualTokens - reservation.reserved;
    if (delta === 0) return;
    const now = this.#now();
    const work = reservation.windows
      .filter((s) => s.reset > now)
      .map((s) => limiterFor(store, s.window).limit(identifierOf(s.window, tenantId), { rate: delta }));
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

  /** The store answers, but too slowly to decide this request in time: refused whatever the outage policy, so no limit is passed. */
  #busy(input: AdmitInput, err: unknown): ApiError {
    input.metrics.count(EdgeMetric.StoreUnavailable);
    log('warn', 'rate limit store too slow to decide a queued request', { tenant_id: input.tenantId, ...describeError(err) });
    return unavailable('rate limiting is overloaded; retry shortly', 1, err);
  }

  #outage(input: AdmitInput, windows: readonly LimitWindow[], err: unknown): Admission {
    input.metrics.count(EdgeMetric.StoreUnavailable);
    log('warn', 'rate limit store unavailable', { tenant_id: input.tenantId, policy: input.policy.outagePolicy, ...describeError(err) });
    if (input.policy.outagePolicy === 'closed') throw unavailable('rate limiting is temporarily unavailable; retry later', 5, err);
    const states = this.#local.admit(input.tenantId, windows, input.tokens, (window, reset) =>
      this.#leases.lease(input.store, input.tenantId, window).usedIn(reset),
    );
    if (states.some((s) => !s.success)) throw this.#denied(states, input, false);
    return {
      headers: limitHeaders(states, this.#now()),
      settle: () => Promise.resolve(),
      reservation: { reserved: input.tokens, windows: [] },
      source: 'local',
    };
  }
}

/** 503 with Retry-After: the limit could not be decided. */
function unavailable(message: string, retryAfter: number, cause: unknown): ApiError {
  return new ApiError('UPSTREAM_ERROR', message, { status: 503, details: { retry_after: retryAfter }, headers: { 'Retry-After': String(retryAfter) }, cause });
}

/** Units a request takes in a window: 1 in a request window, its reservation in a token window. */
const unitsOf = (window: LimitWindow, tokens: number): number => (window.kind === 'requests' ? 1 : tokens);

/** The store as one request's leases reach it: its store, deadline and background sink. */
function ioFor(input: AdmitInput): LeaseIo {
  return {
    change: (window, rate) => limiterFor(input.store, window).limit(identifierOf(window, input.tenantId), { rate }),
    timeoutMs: input.policy.storeTimeoutMs,
    background: input.background,
  };
}

/**
 * The estimate of a call's prompt tokens (what a cut stream, whose backend never reported usage, is
 * counted with): its text, and `tokensPerImage` for each image part (config `images.reserveTokens`).
 */
export function promptTokenEstimate(payload: BackendInferRequestInput, tokensPerImage: number): number {
  return estimateTokens(promptOf(payload)) + imageCount(payload) * tokensPerImage;
}

/**
 * Tokens a call reserves: the prompt's estimate plus `max_tokens` for each choice (`n`). A chat prompt
 * is its turns (with the tool calls they carry), their images, and the tool definitions and output
 * schema the container renders into the model's context, so a request offering many tools reserves for them.
 */
export function tokensToReserve(payload: BackendInferRequestInput, tokensPerImage: number): number {
  const choices = payload.n ?? 1;
  return promptTokenEstimate(payload, tokensPerImage) + (payload.params?.max_tokens ?? 0) * choices;
}

function promptOf(payload: BackendInferRequestInput): string {
  if ('prompt' in payload) return payload.prompt;
  const turns = payload.messages.map((m) => (m.tool_calls ? `${m.content}\n${JSON.stringify(m.tool_calls)}` : m.content));
  const context = [payload.tools, payload.response_format].filter((x) => x !== undefined).map((x) => JSON.stringify(x));
  return [...turns, ...context].join('\n');
}
