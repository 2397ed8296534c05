/**
 * createApp(deps): the edge's routes, middleware order and error handling. Dependencies come in
 * through `deps` so tests can pass real local services or fakes through the same door.
 *
 * Order: request metrics → request id → security headers → (/v1/*: config → CORS → per route: auth → body guards →
 * schema validation → handler). Errors from anywhere go to one onError.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { getConfig, type AppEnv, type Config } from './env';
import { cors } from './middleware/cors';
import { requestId } from './middleware/request-id';
import { securityHeaders } from './middleware/security-headers';
import { notFound, onError } from './on-error';
import type { RouteDeps } from './routes/common';
import { healthRoutes } from './routes/health';
import { inferenceRoutes } from './routes/inference';
import { modelRoutes } from './routes/models';
import { jobRoutes } from './routes/jobs';
import { deadLetterRoutes } from './routes/dead-letters';
import { webhookRoutes } from './routes/webhooks';
import { storeFor, type Store } from './services/store';
import { TenantDirectory } from './services/tenant-directory';
import { IsolateMetrics } from './services/metrics';
import { MetricsFlusher } from './services/metrics-flush';
import { requestMetrics } from './middleware/metrics';
import { idempotency } from './middleware/idempotency';
import { ipLimit } from './middleware/ip-limit';

export interface AppDeps {
  /** The store for a config; defaults to the memoised Upstash client. */
  readonly store: (config: Config) => Store;
  /** Clock in ms; injectable for tests. */
  readonly now: () => number;
  /** Key → tenant lookups with the isolate cache. */
  readonly directory: TenantDirectory;
  /** Where the edge records its metrics (flushed off the critical path). */
  readonly metrics: IsolateMetrics;
  /**
   * Flushes `metrics` to CloudWatch from `waitUntil`. Default: the isolate's flusher when `metrics`
   * is the isolate's; none (record only) when a test passes its own `metrics` without a flusher.
   */
  readonly metricsFlusher: MetricsFlusher;
}

// Isolate-wide on purpose: metrics aggregate across requests until a flush drains them.
const isolateMetrics = new IsolateMetrics();
// Isolate-wide on purpose: its interval gate and retry buffer span requests.
const isolateFlusher = new MetricsFlusher({ metrics: isolateMetrics });

export const API_VERSION = '1.0.0';

export function createApp(overrides: Partial<AppDeps> = {}) {
  const now = overrides.now ?? Date.now;
  const deps: RouteDeps = {
    store: overrides.store ?? storeFor,
    now,
    directory: overrides.directory ?? new TenantDirectory({ now }),
    metrics: overrides.metrics ?? isolateMetrics,
  };
  const app = new OpenAPIHono<AppEnv>();

  // First in the chain: it sees the final response of every request, errors and 404s included.
  const metricsFlusher = overrides.metricsFlusher ?? (overrides.metrics ? undefined : isolateFlusher);
  app.use(requestMetrics({ recorder: deps.metrics, now: Date.now, ...(metricsFlusher ? { flusher: metricsFlusher } : {}) }));
  app.use(requestId(), securityHeaders());
  app.route('/', healthRoutes(deps));

  app.use('/v1/*', async function loadConfig(c, next) {
    c.set('config', getConfig(c.env));
    await next();
  });
  app.use('/v1/*', cors());
  // Issue 4: per-IP flood guard on failed auth (before any key lookup), then Idempotency-Key.
  app.use('/v1/*', ipLimit(), idempotency({ now }));
  app.use('/webhooks/*', ipLimit());
  app.route('/', inferenceRoutes(deps));
  app.route('/', modelRoutes(deps));
  app.route('/', jobRoutes(deps));
  app.route('/', deadLetterRoutes(deps));
  app.route('/', webhookRoutes(deps));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (gw_live_… or gw_test_…); `x-api-key: <key>` is accepted too.',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Inference gateway', version: API_VERSION, description: 'Multi-tenant inference API in front of self-hosted models.' },
  });

  app.notFound(notFound());
  app.onError(onError());
  return app;
}
