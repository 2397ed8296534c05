/**
 * Request metrics, first in the middleware chain: `Requests` (by Route pattern, StatusClass and
 * error Code), `Latency` (by Route) and `AuthFailures`, plus the tokens of answered inference
 * requests. The facts come from the request's {@link RequestOutcome}, where onError and the
 * inference stages put them; no response body is read. Recording and the interval-gated flush to
 * CloudWatch run in `waitUntil`: nothing here can fail or delay a request.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { Usage } from '../../shared/contracts/infer';
import type { ErrorCode } from '../../shared/errors';
import { EdgeMetric as E } from '../../shared/metrics-catalog';
import type { AppEnv } from '../env';
import { runInBackground } from '../services/background';
import { describeError, log } from '../services/log';
import type { Dimensions, MetricsRecorder } from '../services/metrics';
import type { MetricsFlusher } from '../services/metrics-flush';

/** What happened to a request, as the stages and onError saw it. */
export interface RequestOutcome {
  /** The error code of an error answer. */
  code?: ErrorCode;
  /** The usage of an answered inference request; a stream's is known when it ends. */
  usage?: Usage | Promise<Usage | undefined>;
}

export interface OutcomeVariables {
  outcome: RequestOutcome;
}

export interface RequestMetricsOptions {
  readonly recorder: MetricsRecorder;
  /** Flushes the isolate's aggregate when its interval has passed; none: record only. */
  readonly flusher?: MetricsFlusher;
  /** Clock in ms. */
  readonly now: () => number;
}

/** The matched route pattern (never the raw path); `unmatched` when only middleware matched. */
export function routeLabel(c: Context<AppEnv>): string {
  const pattern = routePath(c, -1);
  return !pattern || pattern.includes('*') ? 'unmatched' : pattern;
}

/** Records the request's metrics and flushes when due. */
export function requestMetrics(options: RequestMetricsOptions): MiddlewareHandler<AppEnv> {
  const { recorder, flusher, now } = options;
  return async function requestMetrics(c, next) {
    const started = now();
    const outcome: RequestOutcome = {};
    c.set('outcome', outcome);
    await next();
    const latencyMs = now() - started;
    const status = c.res.status;
    const route = routeLabel(c);
    const config = c.get('config');

    const work = (async () => {
      const dims: Dimensions = { Route: route, StatusClass: `${Math.floor(status / 100)}xx`, ...(outcome.code ? { Code: outcome.code } : {}) };
      recorder.count(E.Requests, dims);
      recorder.observe(E.Latency, latencyMs, { Route: route });
      if (status === 401 || status === 403) recorder.count(E.AuthFailures);
      const usage = status < 300 ? await outcome.usage : undefined;
      if (usage?.prompt_tokens) recorder.count(E.PromptTokens, {}, usage.prompt_tokens);
      if (usage?.completion_tokens) recorder.count(E.CompletionTokens, {}, usage.completion_tokens);
      // No config: /health, or a misconfigured edge, which answers its own errors; metrics wait for a valid one.
      if (!flusher || !config || config.metrics.endpoint === 'off') return;
      await flusher.maybeFlush({
        endpoint: config.metrics.endpoint ?? `https://monitoring.${config.aws.region}.amazonaws.com/`,
        environment: config.environment,
        region: config.aws.region,
        credentials: config.aws,
        intervalMs: config.metrics.flushIntervalMs,
      });
    })().catch((err: unknown) => log('warn', 'request metrics failed', { request_id: c.get('requestId'), ...describeError(err) }));
    runInBackground(c, work);
  };
}
