import { type BackendEmbeddingsRequest, BackendEmbeddingsResponseSchema, EMBEDDINGS_PATH } from '../../../shared/contracts/embeddings';
import type { Priority } from '../../../shared/plans';
import type { Config } from '../../env';
import { ApiError } from '../../errors';
import { backendFailure, postToAdapter } from '../backend-client';
import type { MetricsRecorder } from '../metrics';
import type { ModelRoute } from '../route-table';
import { type Attempt, runRouted } from '../routing/execute';
import type { BackendHealth } from '../routing/health';
import type { Served } from '../upstream';
import type { BatchAnswer } from './batcher';

/** What a batched call needs from the request that sends it. */
export interface EmbedCallContext {
  readonly config: Config;
  readonly route: ModelRoute;
  readonly tenantId: string;
  readonly requestId: string;
  readonly priority: Priority;
  readonly metrics: MetricsRecorder;
  readonly health: BackendHealth;
  readonly now: () => number;
}

async function attemptEmbed(attempt: Attempt, aws: Config['aws'], payload: BackendEmbeddingsRequest): Promise<BatchAnswer> {
  const { backend, signal } = attempt;
  const response = await postToAdapter(backend, EMBEDDINGS_PATH, payload, { aws, signal });
  const body = await response.json().catch(() => undefined);
  if (signal.aborted && signal.reason instanceof ApiError) throw signal.reason;
  if (!response.ok) throw backendFailure(backend, response, body);
  const parsed = BackendEmbeddingsResponseSchema.safeParse(body);
  if (!parsed.success || parsed.data.embeddings.length !== payload.inputs.length)
    throw new ApiError('UPSTREAM_ERROR', `backend ${backend.name} returned an invalid embeddings response`);
  return { vectors: parsed.data.embeddings, promptTokens: parsed.data.usage.prompt_tokens };
}

/** Embeds `payload.inputs` on the route's backends; throws the ApiError to answer every caller with. */
export async function embedOnBackends(ctx: EmbedCallContext, payload: BackendEmbeddingsRequest): Promise<BatchAnswer & { served: Served }> {
  const routed = await runRouted(
    {
      table: ctx.config.routes,
      route: ctx.route,
      model: payload.model,
      tenantId: ctx.tenantId,
      requestId: ctx.requestId,
      priority: ctx.priority,
      metrics: ctx.metrics,
    },
    { health: ctx.health, now: ctx.now },
    (attempt) => attemptEmbed(attempt, ctx.config.aws, payload),
  );
  return { ...routed.value, served: { backend: routed.backend, variant: routed.variant, attempts: routed.attempts } };
}
