/**
 * The metrics contract: every CloudWatch namespace, metric name and dimension the dashboard and the
 * alarms read. The edge (PutMetricData) and the adapters (Powertools EMF) publish under these names;
 * mirror this file there rather than retyping strings. AWS-owned metrics (SageMaker, Lambda, ALB,
 * ECS) are listed too so the dashboard, the alarms and the tests share one spelling.
 *
 * Pure data: no CDK imports, so edge or backend code can copy or import it without pulling in CDK.
 */

/** Custom namespace the edge Worker publishes to with PutMetricData (the edge IAM user may write only here). */
export const EDGE_NAMESPACE = 'InferenceGateway/Edge';

/**
 * Dimension names of edge metrics. Every edge metric is published at least with `Environment` alone
 * (the aggregate series the alarms read: CloudWatch does not sum across dimension sets), and
 * additionally with the breakdown sets listed on each metric.
 */
export const EdgeDimension = {
  /** `dev` | `staging` | `prod` (the wrangler `--env`). */
  Environment: 'Environment',
  /** Route pattern, e.g. `/v1/chat/completions` (never the raw path: bounded cardinality). */
  Route: 'Route',
  /** Status class: `2xx` | `3xx` | `4xx` | `5xx`. */
  StatusClass: 'StatusClass',
  /** Error envelope code, e.g. `RATE_LIMITED`, `UPSTREAM_ERROR`. */
  Code: 'Code',
  /** Cache tier of a hit: `L1` (Workers Cache API) | `L2` (Redis). */
  Tier: 'Tier',
  /** Backend name from the route table (the `X-Backend` header). */
  Backend: 'Backend',
  /** Variant name (the `X-Variant` header). */
  Variant: 'Variant',
  /** Circuit breaker state a transition went to: `open` | `half-open` | `closed`. */
  State: 'State',
  /** Model name from the route table (bounded by it). */
  Model: 'Model',
} as const;

/**
 * Edge metric names. Latencies are in milliseconds and must be published as `Values`/`Counts`
 * arrays (not `StatisticValues`) so CloudWatch can compute p50/p95/p99.
 */
export const EdgeMetric = {
  /** Count of finished requests. Sets: [Environment], [Environment, StatusClass], [Environment, Route, StatusClass], [Environment, Code]. */
  Requests: 'Requests',
  /** End-to-end latency at the edge, ms. Sets: [Environment], [Environment, Route]. */
  Latency: 'Latency',
  /** Time the backend call took, ms. Sets: [Environment], [Environment, Backend]. */
  UpstreamLatency: 'UpstreamLatency',
  /** Cache hits. Sets: [Environment], [Environment, Tier]. */
  CacheHits: 'CacheHits',
  /** Cache misses (cacheable requests that went to the backend). Sets: [Environment]. */
  CacheMisses: 'CacheMisses',
  /** Requests answered 429 by the rate limiter. Sets: [Environment]. */
  RateLimited: 'RateLimited',
  /** Rate-limit checks that could not reach the store in time (outage policy applied). Sets: [Environment]. */
  StoreUnavailable: 'StoreUnavailable',
  /** Rejected credentials (401/403). Sets: [Environment]. */
  AuthFailures: 'AuthFailures',
  /** Backend calls. Sets: [Environment], [Environment, Backend, Variant]. */
  BackendRequests: 'BackendRequests',
  /** Backend retries. Sets: [Environment], [Environment, Backend]. */
  BackendRetries: 'BackendRetries',
  /** Breaker transitions. Sets: [Environment, State], [Environment, Backend, State]. */
  BreakerTransitions: 'BreakerTransitions',
  /** Gauge: 1 while a breaker is open, else 0 (publish Maximum over backends). Sets: [Environment], [Environment, Backend]. */
  CircuitOpen: 'CircuitOpen',
  /** Prompt tokens served. Sets: [Environment]. */
  PromptTokens: 'PromptTokens',
  /** Completion tokens served. Sets: [Environment]. */
  CompletionTokens: 'CompletionTokens',
  /** Inputs per batched embeddings backend call. Sets: [Environment], [Environment, Model]. */
  EmbeddingBatchSize: 'EmbeddingBatchSize',
  /** How long a batch stayed open before its call was sent, ms. Sets: [Environment], [Environment, Model]. */
  EmbeddingBatchWait: 'EmbeddingBatchWait',
  /** Usage records the edge handed to the usage queue (totals only: no per-tenant dimension). Sets: [Environment]. */
  UsageRecords: 'UsageRecords',
  /** Billed cost of those records, micro-units of the price table's currency. Sets: [Environment]. */
  UsageCostMicros: 'UsageCostMicros',
  /** Usage records the edge could not hand to the queue (the ledger misses them). Sets: [Environment]. */
  UsageRecordsLost: 'UsageRecordsLost',
  /** Gauge: largest backlog of the work queues (webhooks, jobs per tier). Sets: [Environment]. */
  QueueBacklog: 'QueueBacklog',
  /** Gauge: messages in the dead-letter queues, summed. Sets: [Environment]. */
  DlqBacklog: 'DlqBacklog',
  /** Model outputs that did not match a strict schema (response format or tool arguments). Sets: [Environment], [Environment, Backend]. */
  SchemaMismatches: 'SchemaMismatches',
} as const;

/**
 * Namespace of one environment's adapter EMF metrics (set as POWERTOOLS_METRICS_NAMESPACE on each
 * function). The environment is in the namespace because the adapters' dimensions (below, owned by
 * backend/core/telemetry.ts) carry none, and two environments may share an account.
 */
export function adapterNamespace(environment: string): string {
  return `InferenceGateway/Adapters/${environment}`;
}

/** Dimensions of adapter metrics (backend/core/telemetry.ts). */
export const AdapterDimension = {
  /** Powertools' service name: `sagemaker-adapter` | `ecs-adapter`. */
  Service: 'service',
  /** Gateway model name (configured models only, else `unknown`). */
  Model: 'model',
  /** Error envelope code (only on `Errors`). */
  ErrorCode: 'error_code',
} as const;

/** Adapter EMF metric names (backend/core/telemetry.ts METRIC). Sets: [service, model]; Errors: [service, model, error_code]. */
export const AdapterMetric = {
  Requests: 'Requests',
  Errors: 'Errors',
  /** ms, whole invocation */
  Latency: 'Latency',
  /** ms, the model call */
  ModelLatency: 'ModelLatency',
  /** ms, streams only */
  TimeToFirstToken: 'TimeToFirstToken',
  TokensIn: 'TokensIn',
  TokensOut: 'TokensOut',
  ClientDisconnects: 'ClientDisconnects',
} as const;

/** SageMaker invocation metrics: namespace `AWS/SageMaker`. */
export const SAGEMAKER_NAMESPACE = 'AWS/SageMaker';
/** SageMaker instance utilisation metrics (incl. GPU) for endpoint variants. */
export const SAGEMAKER_ENDPOINT_NAMESPACE = '/aws/sagemaker/Endpoints';
/** SageMaker utilisation metrics per inference component. */
export const SAGEMAKER_INFERENCE_COMPONENT_NAMESPACE = '/aws/sagemaker/InferenceComponents';

/** SageMaker metric names (latencies in microseconds). */
export const SagemakerMetric = {
  Invocations: 'Invocations',
  InvocationsPerInstance: 'InvocationsPerInstance',
  InvocationsPerCopy: 'InvocationsPerCopy',
  Invocation4XXErrors: 'Invocation4XXErrors',
  Invocation5XXErrors: 'Invocation5XXErrors',
  ModelLatency: 'ModelLatency',
  OverheadLatency: 'OverheadLatency',
  ConcurrentRequestsPerModel: 'ConcurrentRequestsPerModel',
  ConcurrentRequestsPerCopy: 'ConcurrentRequestsPerCopy',
  NoCapacityInvocationFailures: 'NoCapacityInvocationFailures',
  GPUUtilization: 'GPUUtilization',
  GPUMemoryUtilization: 'GPUMemoryUtilization',
  CPUUtilization: 'CPUUtilization',
  MemoryUtilization: 'MemoryUtilization',
  GPUUtilizationNormalized: 'GPUUtilizationNormalized',
  GPUMemoryUtilizationNormalized: 'GPUMemoryUtilizationNormalized',
} as const;

/** Lambda metric names (namespace `AWS/Lambda`, dimension FunctionName). */
const _LambdaMetric = {
  Invocations: 'Invocations',
  Duration: 'Duration',
  ConcurrentExecutions: 'ConcurrentExecutions',
  Throttles: 'Throttles',
  Errors: 'Errors',
} as const;

/** Application Load Balancer metric names (namespace `AWS/ApplicationELB`). */
export const AlbMetric = {
  RequestCount: 'RequestCount',
  RequestCountPerTarget: 'RequestCountPerTarget',
  TargetResponseTime: 'TargetResponseTime',
  HTTPCode_Target_5XX_Count: 'HTTPCode_Target_5XX_Count',
  HTTPCode_ELB_5XX_Count: 'HTTPCode_ELB_5XX_Count',
  HealthyHostCount: 'HealthyHostCount',
  UnHealthyHostCount: 'UnHealthyHostCount',
} as const;

/** ECS metric names (namespace `AWS/ECS`). */
export const EcsMetric = {
  CPUUtilization: 'CPUUtilization',
  MemoryUtilization: 'MemoryUtilization',
  GPUReservation: 'GPUReservation',
} as const;
