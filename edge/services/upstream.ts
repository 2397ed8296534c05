/**
 * The upstream call of an inference request: check the model against the route table and the
 * tenant's plan (allowed models, max_tokens cap), build the backend payload, then call the adapter
 * through routing/ (weighted pick, retries, breakers, fallbacks, shadow). Limits and the cache run
 * before this, in edge/stages/.
 */
import type { TraceContext } from '../../shared/contracts/trace';
import type { BackendInferRequestInput, BackendInferResponse, BackendStreamEvent } from '../../shared/contracts/backend';
import { DEFAULT_MAX_TOKENS } from '../../shared/contracts/infer';
import { DEFAULT_STATUS } from '../../shared/errors';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Config } from '../env';
import { ApiError } from '../errors';
import type { AuthContext } from '../middleware/auth';
import { invokeBackend, streamBackend } from './backend-client';
import { checkCapabilities } from './capabilities';
import { IdleWatch } from './deadline';
import { conformingStream, mismatchOf, outputSchemas } from './conformance';
import { EdgeMetric } from '../../shared/metrics-catalog';
import { resolveRoute, type Backend, type ModelRoute } from './route-table';
import { runRouted, type Attempt, type RouteRequest, type RoutingDeps } from './routing/execute';
import type { BackendHealth } from './routing/health';
import { runShadow, type ShadowResult } from './routing/shadow';
import type { NormalizedRequest } from './translate';
import type { MetricsRecorder } from './metrics';

export interface UpstreamContext {
  readonly config: Config;
  readonly auth: AuthContext;
  readonly requestId: string;
  /** The trace context the adapter continues. */
  readonly trace?: TraceContext | undefined;
  /** Aborted when the client goes away. */
  readonly signal?: AbortSignal;
  readonly metrics: MetricsRecorder;
  /** The isolate's breaker and warming state (routing/health.ts). */
  readonly health: BackendHealth;
  /** Clock of the circuit breakers and warming holds (the app's injectable clock). */
  readonly now: () => number;
  /** Background work that must outlive the response (shadow calls): the request's `waitUntil`. */
  readonly waitUntil?: (promise: Promise<unknown>) => void;
  /** Told what each shadow call came to (the usage ledger's shadow records). */
  readonly onShadow?: (result: ShadowResult) => void;
}

export interface PlannedCall {
  /** The model's whole route: weighted backends, fallbacks, shadow. */
  readonly route: ModelRoute;
  readonly payload: BackendInferRequestInput;
}

/** Which backend actually answered, for `X-Backend` / `X-Variant` / `X-Attempts`, logs and metrics. */
export interface Served {
  readonly backend: Backend;
  readonly variant?: string;
  readonly attempts: number;
}

/** Checks the request against the route table and the tenant's plan; builds the backend payload. */
export function planCall(ctx: Pick<UpstreamContext, 'config' | 'auth' | 'requestId'>, req: NormalizedRequest): PlannedCall {
  const route = resolveRoute(ctx.config.routes, req.model);
  if (!route || route.backends.length === 0) throw new ApiError('NOT_FOUND', `model '${req.model}' does not exist`, { details: { model: req.model } });
  checkModelAllowed(ctx.auth, req.model);
  if (route.embeddings) throw wrongModelKind(req.model, 'an embeddings model: use POST /v1/embeddings');
  const { plan } = ctx.auth;
  const requested = req.params.max_tokens;
  if (requested !== undefined && requested > plan.maxTokens) {
    throw new ApiError('INVALID_INPUT', `max_tokens ${requested} exceeds this plan's limit of ${plan.maxTokens}`, {
      details: { issues: [{ path: 'max_tokens', message: `at most ${plan.maxTokens}` }], max_tokens_limit: plan.maxTokens },
    });
  }
  checkCapabilities(req, route.capabilities);
  const n = req.chat?.options.n ?? 1;
  const maxN = Math.min(route.capabilities.max_n, plan.maxN);
  if (n > maxN) {
    throw new ApiError('INVALID_INPUT', `n: at most ${maxN} for model '${req.model}' on this plan`, {
      details: { issues: [{ path: 'n', message: `at most ${maxN}` }], model: req.model, max_n: maxN },
    });
  }
  const params = { ...req.params, max_tokens: requested ?? Math.min(DEFAULT_MAX_TOKENS, plan.maxTokens) };
  const common = { request_id: ctx.requestId, tenant_id: ctx.auth.tenantId, model: req.model, params, stream: req.stream };
  const payload: BackendInferRequestInput =
    'prompt' in req.input
      ? { ...common, prompt: req.input.prompt, ...req.chat?.options }
      : { ...common, messages: [...req.input.messages], ...req.chat?.options };
  return { route, payload };
}

/** FORBIDDEN unless the tenant's plan enables `model`. */
export function checkModelAllowed(auth: AuthContext, model: string): void {
  if (auth.plan.allowedModels && !auth.plan.allowedModels.includes(model)) {
    throw new ApiError('FORBIDDEN', `model '${model}' is not enabled for this tenant`, { details: { model } });
  }
}

/** The 400 of a model asked for what it does not serve (chat of an embeddings model, or the reverse). */
export function wrongModelKind(model: string, what: string): ApiError {
  return new ApiError('INVALID_INPUT', `model '${model}' is ${what}`, { details: { model, issues: [{ path: 'model', message: `'${model}' is ${what}` }] } });
}

/**
 * Runs a non-streaming request to completion, with retries, breakers and fallbacks (routing/). An
 * answer that does not conform to the request's strict schemas is asked for once more; a second
 * one is an UPSTREAM_ERROR naming the mismatch, never a success.
 */
export async function complete(ctx: UpstreamContext, call: PlannedCall): Promise<{ result: BackendInferResponse; served: Served }> {
  startShadow(ctx, call);
  const run = async () => {
    const routed = await runRouted(routeRequest(ctx, call), routingDeps(ctx), ({ backend, signal }) =>
      invokeBackend(backend, call.payload, { aws: ctx.config.aws, signal, trace: ctx.trace }),
    );
    return { result: routed.value, served: { backend: routed.backend, variant: routed.variant, attempts: routed.attempts } };
  };
  const schemas = outputSchemas(call.payload);
  let answer = await run();
  for (let tries = 1; schemas; tries++) {
    const mismatch = mismatchOf(schemas, answer.result);
    if (!mismatch) break;
    ctx.metrics.count(EdgeMetric.SchemaMismatches, { Backend: answer.served.backend.name });
    if (tries === 2) throw schemaError(mismatch);
    answer = await run();
  }
  return answer;
}

function schemaError(mismatch: string): ApiError {
  return new ApiError('UPSTREAM_ERROR', `the model's ${mismatch}`, { status: 502, details: { reason: 'schema_mismatch' } });
}

/**
 * Starts a streaming request; throws ApiError when it fails before the first event. The first event
 * is read before answering, so a backend failing before it can still be retried or fallen back on.
 */
export async function openStream(
  ctx: UpstreamContext,
  call: PlannedCall,
): Promise<{ events: AsyncGenerator<BackendStreamEvent, void, undefined>; served: Served }> {
  startShadow(ctx, call);
  const routed = await runRouted(routeRequest(ctx, call), routingDeps(ctx), async (attempt) => {
    const events = await streamBackend(attempt.backend, call.payload, { aws: ctx.config.aws, signal: attempt.signal, trace: ctx.trace });
    const first = await events.next();
    if (attempt.signal.aborted && attempt.signal.reason instanceof ApiError) throw attempt.signal.reason;
    if (first.done || first.value.event === 'error') {
      await events.return(undefined);
      const data =
        first.done || first.value.event !== 'error'
          ? { code: 'UPSTREAM_ERROR' as const, message: `backend ${attempt.backend.name} ended the stream at once` }
          : first.value.data;
      const status = (data.code === 'UPSTREAM_ERROR' ? 502 : DEFAULT_STATUS[data.code]) as ContentfulStatusCode;
      throw new ApiError(data.code, data.message, { status, details: { reason: 'stream_failed_before_first_token' } });
    }
    return { first: first.value, events, attempt };
  });
  const { first, events, attempt } = routed.value;
  const guarded = guardIdle(first, events, attempt);
  const schemas = outputSchemas(call.payload);
  const checked = schemas
    ? conformingStream(guarded, schemas, () => ctx.metrics.count(EdgeMetric.SchemaMismatches, { Backend: routed.backend.name }))
    : guarded;
  return { events: checked, served: { backend: routed.backend, variant: routed.variant, attempts: routed.attempts } };
}

function routeRequest(ctx: UpstreamContext, call: PlannedCall): RouteRequest {
  return {
    table: ctx.config.routes,
    route: call.route,
    model: call.payload.model,
    tenantId: ctx.auth.tenantId,
    requestId: ctx.requestId,
    traceId: ctx.trace?.traceId,
    priority: ctx.auth.plan.priority,
    signal: ctx.signal,
    metrics: ctx.metrics,
  };
}

function routingDeps(ctx: UpstreamContext): RoutingDeps {
  return { health: ctx.health, now: ctx.now };
}

/** Sends the shadow copy in the background; the client's call does not wait for it. */
function startShadow(ctx: UpstreamContext, call: PlannedCall): void {
  const shadow = call.route.shadow;
  if (!shadow) return;
  const task = runShadow(
    {
      table: ctx.config.routes,
      shadow,
      model: call.payload.model,
      payload: call.payload,
      priority: ctx.auth.plan.priority,
      aws: ctx.config.aws,
      metrics: ctx.metrics,
      trace: ctx.trace,
      ...(ctx.onShadow ? { onResult: ctx.onShadow } : {}),
    },
    routingDeps(ctx),
  );
  ctx.waitUntil?.(task);
}

/**
 * The one place a backend stream's end is decided: it replays the first event, then the rest, and
 * ends right after the first `done` or `error` (closing the upstream), so everything downstream
 * (cache recording, coalescing, the SSE encoder) only ever sees a stream that ends once, on a final
 * event or when cut. A gap longer than the backend's tier timeout between events ends the stream
 * with a TIMEOUT error event (the timer runs only while waiting upstream).
 */
async function* guardIdle(
  first: BackendStreamEvent,
  events: AsyncGenerator<BackendStreamEvent, void, undefined>,
  attempt: Attempt,
): AsyncGenerator<BackendStreamEvent, void, undefined> {
  const idle = new IdleWatch(attempt.timeoutMs, () =>
    attempt.abort(new ApiError('TIMEOUT', `backend ${attempt.backend.name} sent nothing for ${attempt.timeoutMs} ms`)),
  );
  try {
    yield first;
    if (first.event !== 'token') return;
    for (;;) {
      idle.waiting();
      const next = await events.next();
      idle.resumed();
      if (next.done) return;
      yield next.value;
      if (next.value.event !== 'token') return;
    }
  } finally {
    idle.stop();
    await events.return(undefined);
  }
}

/** The response headers that say what happened (SPEC §7). */
export function servedHeaders(served: Served): Record<string, string> {
  return {
    'X-Backend': served.backend.name,
    ...(served.variant ? { 'X-Variant': served.variant } : {}),
    'X-Attempts': String(served.attempts),
  };
}
