/**
 * The edge's typed environment: Worker bindings in, one parsed config out. Config is parsed with
 * zod once per isolate (memoised on the bindings object) and fails with a message naming the
 * missing or malformed setting, never with an `undefined` deep inside a request.
 */
import * as z from 'zod';
import { describeIssues, jsonString } from '../shared/settings';
import { OPERATOR_TOKEN_PATTERN } from '../shared/contracts/tenancy';
import type { RequestIdVariables } from './middleware/request-id';
import type { AuthVariables } from './middleware/auth';
import type { ConfigVariables } from './middleware/config';
import type { OutcomeVariables } from './middleware/metrics';
import type { ServerTimingVariables } from './middleware/server-timing';
import type { TraceVariables } from './middleware/trace';
import type { InferenceVariables } from './stages/state';
import { setLogLevel } from './services/log';
import { RouteTableSchema } from './services/route-table';
import type { QueueMessageBody } from './queues/messages';
import type { WebhookVariables } from './middleware/webhook-signature';
import type { UsageRecord } from '../shared/contracts/usage';
import type { UsageVariables } from './services/usage/facts';

/** Raw Worker bindings: `[vars]` in wrangler.toml, secrets, and `--var` flags of `wrangler dev`. */
export interface Bindings {
  ENVIRONMENT?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  ROUTE_TABLE?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;
  AWS_REGION?: string;
  MAX_BODY_BYTES?: string;
  /** The body cap of a chat request to a model with `vision` (images inline); default 10 MiB. */
  MAX_BODY_BYTES_VISION?: string;
  /** Image parts: most per request (8), most decoded bytes each (5 MiB), tokens reserved each (765), fetch deadline (5000 ms). */
  IMAGE_MAX_PER_REQUEST?: string;
  IMAGE_MAX_BYTES?: string;
  IMAGE_RESERVE_TOKENS?: string;
  IMAGE_FETCH_TIMEOUT_MS?: string;
  /** Timeout of webhook forwards and how long coalesced followers wait for a leader (ms, default 30000); inference deadlines come from the route table's tiers. */
  BACKEND_TIMEOUT_MS?: string;
  /** Comma-separated origins allowed by CORS (`*` for any); empty: no CORS headers. */
  CORS_ORIGINS?: string;
  /** Optional JWT mode: bearer JWTs from this OIDC issuer, verified against its JWKS. */
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  JWT_JWKS_URL?: string;
  /** The operator credential (`gw_op_…`, a Worker secret): operator routes, every tenant's data. Unset: operator routes refuse everyone. */
  OPERATOR_TOKEN?: string;
  // Edge metrics: PutMetricData target and flush interval; signed with the AWS_* credentials.
  /** CloudWatch endpoint URL (default `https://monitoring.<AWS_REGION>.amazonaws.com/`; locally the metrics sink); `off` disables flushing. */
  METRICS_ENDPOINT?: string;
  /** Least time between two flushes of one isolate (ms, default 60000). */
  METRICS_FLUSH_INTERVAL_MS?: string;
  // Traces (edge/services/tracing.ts): OTLP/HTTP JSON, sent from waitUntil; unset: no spans are exported.
  /** The collector's traces URL (`https://collector.example/v1/traces`; locally the metrics sink's). */
  TRACES_ENDPOINT?: string;
  /** Bound on one export (ms, default 2000). */
  TRACES_TIMEOUT_MS?: string;
  /** Share of new traces sampled, 0–1 (default 1); a client's `traceparent` decides for its own. */
  TRACES_SAMPLE_RATIO?: string;
  /**
   * The usage ledger (edge/middleware/usage.ts): `on` (default) records every request; `off` records
   * nothing — a measurement switch (the bench's `edge-no-usage` copy), not for billing environments:
   * with it off, spend budgets settle each request at its reserved maximum cost.
   */
  USAGE_LEDGER?: string;
  // Rate limits, response cache and idempotency.
  /** `open` (default: a local in-isolate limiter while Redis is down) or `closed` (503 + Retry-After). */
  STORE_OUTAGE_POLICY?: string;
  /** Bound on the rate-limit round trip before the outage policy applies (ms, default 1000). */
  STORE_TIMEOUT_MS?: string;
  /** Response cache TTL when the request sets no `max-age` (s, default 3600). */
  CACHE_DEFAULT_TTL_S?: string;
  /** Highest TTL a request's `max-age` may ask for (s, default 86400). */
  CACHE_MAX_TTL_S?: string;
  /** Comma-separated models whose cached answers are shared across tenants. */
  CACHE_SHAREABLE_MODELS?: string;
  /** Memory budget of the response cache's in-isolate tier, L0 (bytes of stored entries, default 4194304; 0 turns L0 off). */
  CACHE_L0_BYTES?: string;
  /**
   * A miss's backend call starts beside its L1/L2 read while fewer than this share of the isolate's
   * recent lookups hit (0–1, default 0.02; 0 never): the first answer wins and a hit cancels the
   * call (edge/services/cache/speculation.ts).
   */
  CACHE_SPECULATE_BELOW?: string;
  /** Lowest log level written: `debug` (also every refused request), `info` (default), `warn` or `error`. */
  LOG_LEVEL?: string;
  /** Lifetime of stored Responses API answers (s, default 2592000 = 30 days; 0 disables storing; edge/services/responses/store.ts). */
  RESPONSES_STORE_TTL_S?: string;
  /** Failed authentications per IP per minute before the isolate answers 429 without a lookup (default 30). */
  IP_FAILED_AUTH_PER_MINUTE?: string;
  // Webhooks, async jobs and outbound delivery (parsed in edge/queues/settings.ts).
  /** JSON `{source: {scheme, secrets: [binding names], header?, tenant?, actions?, forwardUrl?}}`; secrets are Worker secrets. */
  WEBHOOK_SOURCES?: string;
  WEBHOOK_TOLERANCE_SECONDS?: string;
  /** First retry delay (s) of queue consumers; doubles per attempt. */
  QUEUE_RETRY_BASE_SECONDS?: string;
  DELIVERY_MAX_ATTEMPTS?: string;
  /** Timeout of one outbound delivery to a tenant's callback URL (ms, default 30000). */
  DELIVERY_TIMEOUT_MS?: string;
  JOB_RESULT_TTL_SECONDS?: string;
  /** How long a webhook-triggered job waits for its tenant's limits before it fails with RATE_LIMITED (s, default 3600). */
  JOB_DEADLINE_SECONDS?: string;
  /** PutEvents endpoint of `eventbridge` actions (default `https://events.<AWS_REGION>.amazonaws.com/`; locally the stand-in). */
  EVENTBRIDGE_ENDPOINT?: string;
  /** The environment's event bus (default `inference-gateway-<ENVIRONMENT>-events`, as CDK names it). */
  EVENT_BUS_NAME?: string;
  /** `true` only on the local stack: callback URLs may be http://127.0.0.1 / localhost. */
  CALLBACK_ALLOW_LOOPBACK?: string;
  WEBHOOK_QUEUE?: Queue<QueueMessageBody>;
  JOBS_QUEUE_VIP?: Queue<QueueMessageBody>;
  JOBS_QUEUE_STANDARD?: Queue<QueueMessageBody>;
  JOBS_QUEUE_LOW?: Queue<QueueMessageBody>;
  DELIVERY_QUEUE?: Queue<QueueMessageBody>;
  DEAD_LETTER_QUEUE?: Queue<QueueMessageBody>;
  /** The usage ledger: records from the edge (`gw-usage-<env>`), consumed in batches (edge/queues/usage-consumer.ts). */
  USAGE_QUEUE?: Queue<UsageRecord>;
  /** The raw usage records, gzip NDJSON under `usage/dt=YYYY-MM-DD/`. */
  USAGE_BUCKET?: R2Bucket;
}

/** JWT mode: which issuer, audience and JWKS to trust. Claims: see edge/services/jwt.ts. */
export const JwtConfigSchema = z.object({
  issuer: z.url(),
  audience: z.string().min(1),
  jwksUrl: z.url({ protocol: /^https?$/ }),
});

export type JwtConfig = z.infer<typeof JwtConfigSchema>;

const ConfigSchema = z.object({
  environment: z.string().min(1).default('local'),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  store: z.object({
    url: z.url({ protocol: /^https?$/ }),
    token: z.string().min(1),
  }),
  routes: jsonString.pipe(RouteTableSchema),
  aws: z.object({
    accessKeyId: z.string().min(1),
    secretAccessKey: z.string().min(1),
    sessionToken: z.string().min(1).optional(),
    region: z.string().min(1).default('us-east-1'),
  }),
  maxBodyBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  maxBodyBytesVision: z.coerce
    .number()
    .int()
    .positive()
    .default(10 * 1024 * 1024),
  images: z.object({
    maxPerRequest: z.coerce.number().int().min(1).max(16).default(8),
    maxBytes: z.coerce
      .number()
      .int()
      .positive()
      .default(5 * 1024 * 1024),
    reserveTokens: z.coerce.number().int().min(0).default(765),
    fetchTimeoutMs: z.coerce.number().int().positive().max(30_000).default(5_000),
    /** The local stack's CALLBACK_ALLOW_LOOPBACK: image URLs may then be http(s) on loopback, as callbacks may. */
    allowLoopback: z.boolean().default(false),
  }),
  backendTimeoutMs: z.coerce.number().int().positive().default(30_000),
  corsOrigins: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  jwt: JwtConfigSchema.optional(),
  operatorToken: z.string().regex(OPERATOR_TOKEN_PATTERN, 'must be gw_op_ and 43 base64url characters (npm run gw -- operator token makes one)').optional(),
  metrics: z.object({
    endpoint: z.union([z.literal('off'), z.url({ protocol: /^https?$/ })]).optional(),
    flushIntervalMs: z.coerce.number().int().min(100).default(60_000),
  }),
  usageLedger: z.enum(['on', 'off']).default('on'),
  traces: z.object({
    endpoint: z.url({ protocol: /^https?$/ }).optional(),
    timeoutMs: z.coerce.number().int().positive().max(30_000).default(2_000),
    sampleRatio: z.coerce.number().min(0).max(1).default(1),
  }),
  limits: z.object({
    outagePolicy: z.enum(['open', 'closed']).default('open'),
    storeTimeoutMs: z.coerce.number().int().positive().default(1_000),
    ipFailedAuthPerMinute: z.coerce.number().int().positive().default(30),
  }),
  cache: z.object({
    defaultTtlS: z.coerce.number().int().positive().default(3_600),
    maxTtlS: z.coerce.number().int().positive().default(86_400),
    l0Bytes: z.coerce
      .number()
      .int()
      .min(0)
      .default(4 * 1024 * 1024),
    speculateBelow: z.coerce.number().min(0).max(1).default(0.02),
    shareableModels: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((m) => m.trim())
          .filter(Boolean),
      ),
  }),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Raised when the bindings do not form a valid config; the message names each bad setting. */
export class EdgeConfigError extends Error {
  override readonly name = 'EdgeConfigError';
}

// One parse per bindings object: workerd hands the same env to every request of an isolate.
const parsed = new WeakMap<Bindings, Config>();

/** Parses (once) and returns the config for these bindings. */
export function getConfig(env: Bindings): Config {
  const cached = parsed.get(env);
  if (cached) return cached;
  const result = ConfigSchema.safeParse({
    environment: env.ENVIRONMENT,
    logLevel: env.LOG_LEVEL || undefined,
    store: { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN },
    routes: env.ROUTE_TABLE,
    aws: {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
      region: env.AWS_REGION || undefined,
    },
    maxBodyBytes: env.MAX_BODY_BYTES || undefined,
    maxBodyBytesVision: env.MAX_BODY_BYTES_VISION || undefined,
    images: {
      maxPerRequest: env.IMAGE_MAX_PER_REQUEST || undefined,
      maxBytes: env.IMAGE_MAX_BYTES || undefined,
      reserveTokens: env.IMAGE_RESERVE_TOKENS || undefined,
      fetchTimeoutMs: env.IMAGE_FETCH_TIMEOUT_MS || undefined,
      allowLoopback: env.CALLBACK_ALLOW_LOOPBACK === 'true',
    },
    backendTimeoutMs: env.BACKEND_TIMEOUT_MS || undefined,
    corsOrigins: env.CORS_ORIGINS || undefined,
    limits: {
      outagePolicy: env.STORE_OUTAGE_POLICY || undefined,
      storeTimeoutMs: env.STORE_TIMEOUT_MS || undefined,
      ipFailedAuthPerMinute: env.IP_FAILED_AUTH_PER_MINUTE || undefined,
    },
    cache: {
      defaultTtlS: env.CACHE_DEFAULT_TTL_S || undefined,
      maxTtlS: env.CACHE_MAX_TTL_S || undefined,
      l0Bytes: env.CACHE_L0_BYTES || undefined,
      speculateBelow: env.CACHE_SPECULATE_BELOW || undefined,
      shareableModels: env.CACHE_SHAREABLE_MODELS || undefined,
    },
    metrics: { endpoint: env.METRICS_ENDPOINT || undefined, flushIntervalMs: env.METRICS_FLUSH_INTERVAL_MS || undefined },
    usageLedger: env.USAGE_LEDGER || undefined,
    traces: { endpoint: env.TRACES_ENDPOINT || undefined, timeoutMs: env.TRACES_TIMEOUT_MS || undefined, sampleRatio: env.TRACES_SAMPLE_RATIO || undefined },
    operatorToken: env.OPERATOR_TOKEN || undefined,
    jwt: env.JWT_ISSUER ? { issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE, jwksUrl: env.JWT_JWKS_URL } : undefined,
  });
  if (!result.success) {
    throw new EdgeConfigError(`invalid edge configuration: ${describeIssues(result.error).join('; ')}`);
  }
  parsed.set(env, result.data);
  setLogLevel(result.data.logLevel);
  return result.data;
}

/** The app's single typed context. */
export interface AppEnv {
  Bindings: Bindings;
  Variables: RequestIdVariables &
    ConfigVariables &
    AuthVariables &
    WebhookVariables &
    InferenceVariables &
    OutcomeVariables &
    ServerTimingVariables &
    TraceVariables &
    UsageVariables;
}
