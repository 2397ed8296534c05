/**
 * createApp(deps): the edge's routes, middleware order and error handling. Every isolate service
 * comes in through `deps` (edge/services/isolate.ts), so tests pass fresh ones or fakes through the
 * same door.
 *
 * Order: request metrics → Server-Timing → request id → trace context (spans out from waitUntil) → security headers → /health, /ready → (/v1/*, /webhooks/*:
 * config and store → CORS → per-IP guard) → per route: auth → body guards →
 * schema validation → handler (inference routes: the stages of edge/stages/chain.ts). Errors from
 * anywhere go to one onError.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from './env';
import { resolveConfig } from './middleware/config';
import { cors } from './middleware/cors';
import { ipLimit } from './middleware/ip-limit';
import { requestMetrics } from './middleware/metrics';
import { requestId } from './middleware/request-id';
import { securityHeaders } from './middleware/security-headers';
import { serverTiming } from './middleware/server-timing';
import { traceContext } from './middleware/trace';
import { usageLedger } from './middleware/usage';
import { notFound, onError } from './on-error';
import { completionRoutes } from './routes/completions';
import { deadLetterRoutes } from './routes/dead-letters';
import { embeddingRoutes } from './routes/embeddings';
import { healthRoutes } from './routes/health';
import { jobRoutes } from './routes/jobs';
import { modelRoutes } from './routes/models';
import { responsesRoutes } from './routes/responses';
import { usageRoutes } from './routes/usage';
import { webhookRoutes } from './routes/webhooks';
import { type IsolateServices, isolateServices } from './services/isolate';

const API_VERSION = '1.0.0';

/** The app; `deps` missing a service get a fresh one (edge/index.ts passes the isolate's). */
export function createApp(overrides: Partial<IsolateServices> = {}) {
  const deps = isolateServices(overrides);
  const app = new OpenAPIHono<AppEnv>();

  // First in the chain: it sees the final response of every request, errors and 404s included.
  app.use(requestMetrics({ recorder: deps.metrics, now: Date.now, ...(deps.metricsFlusher ? { flusher: deps.metricsFlusher } : {}) }));
  app.use(serverTiming(), requestId(), traceContext(), securityHeaders());
  app.route('/', healthRoutes(deps));

  app.use('/v1/*', resolveConfig(deps), usageLedger({ now: deps.now, metrics: deps.metrics }), cors(), ipLimit({ directory: deps.directory }));
  app.use('/webhooks/*', resolveConfig(deps), ipLimit());
  app.route('/', completionRoutes(deps));
  app.route('/', responsesRoutes(deps));
  app.route('/', embeddingRoutes(deps));
  app.route('/', modelRoutes(deps));
  app.route('/', jobRoutes(deps));
  app.route('/', deadLetterRoutes(deps));
  app.route('/', usageRoutes(deps));
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
