/**
 * Shadow traffic: a copy of the request sent to the route's shadow backend in the background
 * (`waitUntil`). The client's answer never waits for it and never sees it; its outcome is only
 * logged and counted. It has its own breaker, so a dead shadow is not called on every request.
 */
import type { BackendInferRequestInput } from '../../../shared/contracts/backend';
import type { Usage } from '../../../shared/contracts/infer';
import type { Priority } from '../../../shared/plans';
import type { Config } from '../../env';
import type { TraceContext } from '../../../shared/contracts/trace';
import { invokeBackend } from '../backend-client';
import { describeError, log } from '../log';
import type { MetricsRecorder } from '../metrics';
import { breakerFor, timeoutFor, type Backend, type RouteTable } from '../route-table';
import { healthKey, reportTransition, type RoutingDeps } from './execute';
import { asApiError, classify } from './policy';

export interface ShadowRequest {
  readonly table: RouteTable;
  readonly shadow: Backend;
  readonly model: string;
  readonly payload: BackendInferRequestInput;
  readonly priority: Priority;
  readonly aws: Config['aws'];
  readonly metrics: MetricsRecorder;
  /** The request's trace context, continued by the shadow call as by the client's. */
  readonly trace?: TraceContext | undefined;
  /** Told what a shadow call that was made came to (the usage ledger records it, never billed). */
  readonly onResult?: (result: ShadowResult) => void;
}

/** What a shadow call that reached its backend came to. */
export interface ShadowResult {
  readonly backend: string;
  readonly status: number;
  readonly code?: string;
  readonly usage?: Usage;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** What happened to one shadow call (also what the log line says). */
export type ShadowOutcome = 'ok' | 'error' | 'skipped';

/** Calls the shadow backend once; never throws. */
export async function runShadow(req: ShadowRequest, deps: RoutingDeps): Promise<ShadowOutcome> {
  const { shadow, payload } = req;
  const requestId = payload.request_id;
  const traceId = req.trace?.traceId;
  try {
    const settings = breakerFor(req.table, shadow);
    const key = healthKey(shadow, req.model);
    const admission = deps.health.admit(key, settings, deps.now());
    if (!admission.allowed) {
      log('info', 'shadow result', { request_id: requestId, trace_id: traceId, backend: shadow.name, outcome: 'skipped', reason: admission.detail });
      return 'skipped';
    }
    if (admission.transition) reportTransition(admission.transition, shadow, requestId, req.metrics, traceId);
    req.metrics.count('BackendRequests', { Backend: shadow.name, Variant: 'shadow' });
    const started = Date.now();
    try {
      const result = await invokeBackend(shadow, payload, { aws: req.aws, timeoutMs: timeoutFor(req.table, shadow, req.priority), trace: req.trace });
      req.onResult?.({ backend: shadow.name, status: 200, usage: result.usage, startedAt: started, endedAt: Date.now() });
      const t = deps.health.record(key, 'success', settings, deps.now());
      if (t) reportTransition(t, shadow, requestId, req.metrics, traceId);
      log('info', 'shadow result', {
        request_id: requestId,
        trace_id: traceId,
        backend: shadow.name,
        outcome: 'ok',
        latency_ms: Date.now() - started,
        completion_tokens: result.usage.completion_tokens,
        output_chars: result.output.length,
      });
      return 'ok';
    } catch (err) {
      const error = asApiError(err);
      req.onResult?.({ backend: shadow.name, status: error.status, code: error.code, startedAt: started, endedAt: Date.now() });
      const t = deps.health.record(key, classify(error).breaker, settings, deps.now());
      if (t) reportTransition(t, shadow, requestId, req.metrics, traceId);
      log('warn', 'shadow result', {
        request_id: requestId,
        trace_id: traceId,
        backend: shadow.name,
        outcome: 'error',
        status: error.status,
        code: error.code,
        latency_ms: Date.now() - started,
      });
      return 'error';
    } finally {
      req.metrics.observe('UpstreamLatency', Date.now() - started, { Backend: shadow.name });
    }
  } catch (err) {
    log('error', 'shadow call failed unexpectedly', { request_id: requestId, trace_id: traceId, backend: shadow.name, ...describeError(err) });
    return 'error';
  }
}
