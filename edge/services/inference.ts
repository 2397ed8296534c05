/**
 * The inference pipeline between a validated request and the backend: route the model, enforce the
 * tenant's plan (allowed models, max_tokens cap), build the backend payload, call the adapter. Rate
 * limits, the cache and resilience plug in here, so every public surface gets them alike.
 */
import type { BackendInferRequestInput, BackendInferResponse, BackendStreamEvent } from '../../shared/contracts/backend';
import { DEFAULT_MAX_TOKENS } from '../../shared/contracts/infer';
import type { Config } from '../env';
import { ApiError } from '../errors';
import type { AuthContext } from '../middleware/auth';
import { invokeBackend, streamBackend } from './backend-client';
import { resolveBackend, type Backend } from './route-table';
import type { NormalizedRequest } from './translate';
import type { MetricsRecorder } from './metrics';

export interface InferenceContext {
  readonly config: Config;
  readonly auth: AuthContext;
  readonly requestId: string;
  /** Aborted when the client goes away. */
  readonly signal?: AbortSignal;
  readonly metrics: MetricsRecorder;
}

export interface PlannedCall {
  /** The backend the route table picks first for this model. */
  readonly backend: Backend;
  readonly payload: BackendInferRequestInput;
}

/** Which backend actually answered, for `X-Backend` / `X-Variant` / `X-Attempts`, logs and metrics. */
export interface Served {
  readonly backend: Backend;
  readonly variant?: string;
  readonly attempts: number;
}

/** Checks the request against the route table and the tenant's plan; builds the backend payload. */
export function planCall(ctx: InferenceContext, req: NormalizedRequest): PlannedCall {
  const backend = resolveBackend(ctx.config.routes, req.model);
  if (!backend) throw new ApiError('NOT_FOUND', `model '${req.model}' does not exist`, { details: { model: req.model } });
  const { plan } = ctx.auth;
  if (plan.allowedModels && !plan.allowedModels.includes(req.model)) {
    throw new ApiError('FORBIDDEN', `model '${req.model}' is not enabled for this tenant`, { details: { model: req.model } });
  }
  const requested = req.params.max_tokens;
  if (requested !== undefined && requested > plan.maxTokens) {
    throw new ApiError('INVALID_INPUT', `max_tokens ${requested} exceeds this plan's limit of ${plan.maxTokens}`, {
      details: { issues: [{ path: 'max_tokens', message: `at most ${plan.maxTokens}` }], max_tokens_limit: plan.maxTokens },
    });
  }
  const params = { ...req.params, max_tokens: requested ?? Math.min(DEFAULT_MAX_TOKENS, plan.maxTokens) };
  const common = { request_id: ctx.requestId, tenant_id: ctx.auth.tenantId, model: req.model, params, stream: req.stream };
  const payload: BackendInferRequestInput = 'prompt' in req.input ? { ...common, prompt: req.input.prompt } : { ...common, messages: [...req.input.messages] };
  return { backend, payload };
}

/** Runs a non-streaming request to completion. */
export async function complete(ctx: InferenceContext, call: PlannedCall): Promise<{ result: BackendInferResponse; served: Served }> {
  const result = await invokeBackend(call.backend, call.payload, { aws: ctx.config.aws, timeoutMs: ctx.config.backendTimeoutMs, signal: ctx.signal });
  return { result, served: { backend: call.backend, attempts: 1 } };
}

/** Starts a streaming request; throws ApiError when it fails before the first event. */
export async function openStream(
  ctx: InferenceContext,
  call: PlannedCall,
): Promise<{ events: AsyncGenerator<BackendStreamEvent, void, undefined>; served: Served }> {
  const events = await streamBackend(call.backend, call.payload, { aws: ctx.config.aws, timeoutMs: ctx.config.backendTimeoutMs, signal: ctx.signal });
  return { events, served: { backend: call.backend, attempts: 1 } };
}

/** The response headers that say what happened (SPEC §7). */
export function servedHeaders(served: Served): Record<string, string> {
  return {
    'X-Backend': served.backend.name,
    ...(served.variant ? { 'X-Variant': served.variant } : {}),
    'X-Attempts': String(served.attempts),
  };
}
