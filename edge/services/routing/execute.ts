/**
 * The routing loop of one request: try the candidates in order (weighted pick, then fallbacks),
 * skipping open circuits and warming backends, retrying connection errors / 429 / 503 with backoff
 * while the tier's deadline allows, and recording every decision in the log and the metrics.
 * Attempts are bounded by min(remaining deadline, the backend's tier timeout); an attempt only
 * succeeds once it has something to give the client (a whole answer, or a stream's first event),
 * so nothing a client has seen is ever retried.
 */
import { ApiError } from '../../errors';
import { REASON } from '../../../shared/contracts/boundary';
import type { Priority } from '../../../shared/plans';
import { log } from '../log';
import type { MetricsRecorder } from '../metrics';
import { breakerFor, deadlineFor, retryFor, timeoutFor, type Backend, type ModelRoute, type RouteTable } from '../route-table';
import type { BackendHealth, Transition } from './health';
import { CANCELLED } from '../backend-client';
import { asApiError, backoffMs, classify, DEADLINE, sleep } from './policy';
import { candidates } from './select';

/** Isolate services the loop uses; injectable so tests control the breaker's clock. */
export interface RoutingDeps {
  readonly health: BackendHealth;
  /** Clock of the breaker and warming holds (ms). */
  readonly now: () => number;
  readonly random?: () => number;
}

/** One routed request. */
export interface RouteRequest {
  readonly table: RouteTable;
  readonly route: ModelRoute;
  /** Breakers are per backend and model: one failing endpoint behind an adapter must not close the adapter's other models. */
  readonly model: string;
  readonly tenantId: string;
  readonly requestId: string;
  /** The request's trace, for its log lines. */
  readonly traceId?: string | undefined;
  readonly priority: Priority;
  /** The client's signal: aborts everything. */
  readonly signal?: AbortSignal;
  readonly metrics: MetricsRecorder;
}

/** What one attempt gets: its backend and a signal that fires on timeout, deadline or client abort. */
export interface Attempt {
  readonly backend: Backend;
  readonly signal: AbortSignal;
  /** This backend's timeout for the tier: also the longest gap a stream may leave between events. */
  readonly timeoutMs: number;
  /** Ends the attempt (after success: a stream gone idle) with `reason` as its error. */
  abort(reason: ApiError): void;
}

/** Which backend answered, and how many attempts it took (all backends). */
export interface RoutedResult<T> {
  readonly value: T;
  readonly backend: Backend;
  readonly variant: string | undefined;
  readonly attempts: number;
}

/** The key of a backend's breaker and warming hold for one model. */
export const healthKey = (backend: Backend, model: string) => `${backend.name}|${model}`;

/** Logs and counts a breaker transition. */
export function reportTransition(t: Transition, backend: Backend, requestId: string, metrics: MetricsRecorder, traceId?: string): void {
  log(t.to === 'open' ? 'warn' : 'info', `circuit breaker ${t.to}`, {
    request_id: requestId,
    trace_id: traceId,
    backend: backend.name,
    breaker: t.backend,
    from: t.from,
    to: t.to,
    failures: t.failures,
  });
  metrics.count('BreakerTransitions', { Backend: backend.name, State: t.to });
  metrics.observe('CircuitOpen', t.to === 'open' ? 1 : 0, { Backend: backend.name });
}

const retryAfterHeader = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));

/** Runs `attempt` against the route's backends until one succeeds; throws the ApiError to answer with. */
export async function runRouted<T>(req: RouteRequest, deps: RoutingDeps, attempt: (a: Attempt) => Promise<T>): Promise<RoutedResult<T>> {
  const { table, requestId, traceId, metrics } = req;
  const deadlineMs = deadlineFor(table, req.priority);
  const deadlineAt = Date.now() + deadlineMs;
  const retry = retryFor(table);
  const deadlineError = () =>
    new ApiError('TIMEOUT', `no answer within the ${req.priority} tier's deadline of ${deadlineMs} ms`, {
      details: { reason: DEADLINE, deadline_ms: deadlineMs },
    });
  let attempts = 0;
  let lastError: ApiError | undefined;
  let skipped: { reason: string; retryAfterMs: number } | undefined;
  let previous: string | undefined;

  for (const candidate of candidates(req.route, req.tenantId, req.requestId)) {
    const { backend } = candidate;
    const settings = breakerFor(table, backend);
    if (previous !== undefined) {
      log('info', 'routing fallback', {
        request_id: requestId,
        trace_id: traceId,
        from: previous,
        to: backend.name,
        reason: lastError ? String(lastError.details?.reason ?? lastError.code) : (skipped?.reason ?? ''),
      });
    }
    previous = backend.name;
    const key = healthKey(backend, req.model);
    const admission = deps.health.admit(key, settings, deps.now());
    if (!admission.allowed) {
      log('info', 'backend skipped', {
        request_id: requestId,
        trace_id: traceId,
        backend: backend.name,
        reason: admission.detail,
        retry_after_ms: admission.retryAfterMs,
      });
      if (!skipped || admission.retryAfterMs < skipped.retryAfterMs) skipped = { reason: admission.detail, retryAfterMs: admission.retryAfterMs };
      continue;
    }
    if (admission.transition) reportTransition(admission.transition, backend, requestId, metrics, traceId);

    for (let n = 1; ; n++) {
      const remaining = deadlineAt - Date.now();
      if (remaining <= 0) throw deadlineError();
      const backendTimeout = timeoutFor(table, backend, req.priority);
      const bound = Math.min(remaining, backendTimeout);
      const controller = new AbortController();
      const timer = setTimeout(
        () =>
          controller.abort(
            bound === remaining
              ? deadlineError()
              : new ApiError('TIMEOUT', `backend ${backend.name} did not answer within ${backendTimeout} ms`, { details: { reason: REASON.timeout } }),
          ),
        bound,
      );
      const signal = req.signal ? AbortSignal.any([req.signal, controller.signal]) : controller.signal;
      attempts++;
      metrics.count('BackendRequests', { Backend: backend.name, Variant: candidate.variant ?? 'default' });
      const started = Date.now();
      try {
        const value = await attempt({ backend, signal, timeoutMs: backendTimeout, abort: (reason) => controller.abort(reason) });
        clearTimeout(timer);
        metrics.observe('UpstreamLatency', Date.now() - started, { Backend: backend.name });
        const t = deps.health.record(key, 'success', settings, deps.now());
        if (t) reportTransition(t, backend, requestId, metrics, traceId);
        return { value, backend, variant: candidate.variant, attempts };
      } catch (err) {
        clearTimeout(timer);
        metrics.observe('UpstreamLatency', Date.now() - started, { Backend: backend.name });
        const error = req.signal?.aborted
          ? new ApiError('UPSTREAM_ERROR', 'request cancelled', { status: 503, details: { reason: CANCELLED } })
          : asApiError(err);
        const verdict = classify(error);
        let delay: number | undefined;
        if (verdict.kind === 'retry' && n < retry.maxAttempts && !admission.probe) {
          const wait = backoffMs(n, retry, verdict.retryAfterMs, deps.random);
          if (Date.now() + wait < deadlineAt) delay = wait;
          else log('info', 'retry skipped: past the deadline', { request_id: requestId, trace_id: traceId, backend: backend.name, delay_ms: wait });
        }
        // The breaker counts a request's outcome on a backend once, not each of its retries.
        if (delay === undefined) {
          const t = deps.health.record(key, verdict.breaker, settings, deps.now());
          if (t) reportTransition(t, backend, requestId, metrics, traceId);
        }
        log(verdict.kind === 'client' ? 'info' : 'warn', 'backend attempt failed', {
          request_id: requestId,
          trace_id: traceId,
          backend: backend.name,
          attempt: n,
          status: error.status,
          code: error.code,
          reason: typeof error.details?.reason === 'string' ? error.details.reason : undefined,
          decision: delay !== undefined ? 'retry' : verdict.kind,
          latency_ms: Date.now() - started,
        });
        if (verdict.kind === 'client' || verdict.kind === 'deadline') throw error;
        lastError = error;
        if (verdict.kind === 'warming') {
          const holdMs = Math.min(verdict.retryAfterMs ?? 1_000, 120_000);
          const reason = String(error.details?.reason ?? 'warming');
          if (deps.health.holdWarming(key, deps.now() + holdMs, deps.now(), reason)) {
            log('warn', 'backend warming: warm-up triggered, holding requests', {
              request_id: requestId,
              trace_id: traceId,
              backend: backend.name,
              reason,
              hold_ms: holdMs,
            });
          }
          break;
        }
        if (delay === undefined) break;
        log('info', 'backend retry', {
          request_id: requestId,
          trace_id: traceId,
          backend: backend.name,
          retry: n,
          delay_ms: delay,
          retry_after_ms: verdict.retryAfterMs,
        });
        metrics.count('BackendRetries', { Backend: backend.name });
        await sleep(delay, req.signal);
      }
    }
  }
  throw finalError(lastError, skipped);
}

/** The answer when no backend served: the last backend's error, else 503 for open or warming backends. */
function finalError(lastError: ApiError | undefined, skipped: { reason: string; retryAfterMs: number } | undefined): ApiError {
  if (lastError) {
    if (lastError.status !== 503 || lastError.headers['Retry-After']) return lastError;
    return new ApiError(lastError.code, lastError.message, { status: 503, details: lastError.details, headers: { ...lastError.headers, 'Retry-After': '1' } });
  }
  const s = skipped ?? { reason: 'unavailable', retryAfterMs: 1_000 };
  const message = s.reason.startsWith('circuit') ? 'every backend for this model is failing; retry later' : 'the model is warming up; retry later';
  return new ApiError('UPSTREAM_ERROR', message, { status: 503, details: { reason: s.reason }, headers: { 'Retry-After': retryAfterHeader(s.retryAfterMs) } });
}
