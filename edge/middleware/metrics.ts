/**
 * Request metrics, first in the middleware chain: `Requests` (by Route pattern, StatusClass and
 * error Code), `Latency` (by Route) and `AuthFailures`, plus token counts read from small JSON
 * inference answers. Everything after the response is built runs in `waitUntil`: reading the
 * error code or usage from a clone of the body, recording, and the interval-gated flush to
 * CloudWatch. Nothing here can fail or delay a request.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { EdgeMetric as E } from '../../shared/metrics-catalog';
import { type AppEnv, type Config, getConfig } from '../env';
import type { MetricsFlusher } from '../services/metrics-flush';
import type { Dimensions, MetricsRecorder } from '../services/metrics';
import { describeError, log } from '../services/log';
import { runInBackground } from '../services/background';

export interface RequestMetricsOptions {
  readonly recorder: MetricsRecorder;
  /** Flushes the isolate's aggregate when its interval has passed; none: record only. */
  readonly flusher?: MetricsFlusher;
  /** Clock in ms. */
  readonly now: () => number;
}

/** Inference routes whose JSON answers carry `usage.{prompt,completion}_tokens`. */
const USAGE_ROUTES = new Set(['/v1/infer', '/v1/chat/completions', '/v1/completions']);
/** Bodies above this are not parsed for usage (reading them would not be cheap). */
const MAX_PARSED_BODY_BYTES = 256 * 1024;
const ERROR_CODE = /^[A-Z][A-Z_]{1,39}$/;

/** The matched route pattern (never the raw path); `unmatched` when only middleware matched. */
export function routeLabel(c: Context<AppEnv>): string {
  const pattern = routePath(c, -1);
  return !pattern || pattern.includes('*') ? 'unmatched' : pattern;
}

interface ParsedBody {
  error?: { code?: unknown };
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
}

/** What the response says, read from a clone in the background. */
async function readBody(clone: Response | undefined): Promise<ParsedBody> {
  if (!clone) return {};
  try {
    const body: unknown = await clone.json();
    return body && typeof body === 'object' ? (body as ParsedBody) : {};
  } catch {
    return {};
  }
}

const tokens = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

/** Records the request's metrics and flushes when due. */
export function requestMetrics(options: RequestMetricsOptions): MiddlewareHandler<AppEnv> {
  const { recorder, flusher, now } = options;
  return async function requestMetrics(c, next) {
    const started = now();
    await next();
    const latencyMs = now() - started;
    const res = c.res;
    const route = routeLabel(c);
    const isJson = (res.headers.get('content-type') ?? '').includes('application/json');
    const length = Number(res.headers.get('content-length') ?? '0');
    const wantsBody = isJson && res.body !== null && length <= MAX_PARSED_BODY_BYTES && (res.status >= 400 || (res.status < 300 && USAGE_ROUTES.has(route)));
    // Cloned now (the client consumes the original); read only in the background.
    const clone = wantsBody ? res.clone() : undefined;
    const env = c.env;

    const work = (async () => {
      const body = await readBody(clone);
      const statusClass = `${Math.floor(res.status / 100)}xx`;
      const code = typeof body.error?.code === 'string' && ERROR_CODE.test(body.error.code) ? body.error.code : undefined;
      const dims: Dimensions = { Route: route, StatusClass: statusClass, ...(code ? { Code: code } : {}) };
      recorder.count(E.Requests, dims);
      recorder.observe(E.Latency, latencyMs, { Route: route });
      if (res.status === 401 || res.status === 403) recorder.count(E.AuthFailures);
      if (res.status < 300) {
        const prompt = tokens(body.usage?.prompt_tokens);
        const completion = tokens(body.usage?.completion_tokens);
        if (prompt) recorder.count(E.PromptTokens, {}, prompt);
        if (completion) recorder.count(E.CompletionTokens, {}, completion);
      }
      if (!flusher || !env) return;
      let config: Config;
      try {
        config = getConfig(env);
      } catch {
        return; // a misconfigured edge answers its own errors; metrics wait for a valid config
      }
      if (config.metrics.endpoint === 'off') return;
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
