/**
 * Trace context and the request's spans. On the way in: the client's W3C `traceparent` /
 * `tracestate` when valid (shared/contracts/trace.ts), else a new trace, sampled at
 * `TRACES_SAMPLE_RATIO`; the stages forward it to the adapter (services/backend-client.ts). On the
 * way out, when a collector is configured (`TRACES_ENDPOINT`) and the trace is sampled: the server
 * span and its phases (middleware/server-timing.ts measured them) go to the collector from
 * `waitUntil`, a stream's once it settles, batched with the isolate's other requests
 * (services/tracing.ts, SpanBatcher). Nothing is built or sent otherwise.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { parseTraceparent, SPAN_ATTR as A, TRACEPARENT_HEADER, TRACESTATE_HEADER } from '../../shared/contracts/trace';
import { type AppEnv, type Config, getConfig } from '../env';
import { runInBackground } from '../services/background';
import { withDeadline } from '../services/deadline';
import { genAiAttributes, isExported, type RequestFacts, requestSpans, type RequestTrace, SpanBatcher, startRequestTrace } from '../services/tracing';
import type { Settlement } from '../stages/state';
import { routeLabel } from './metrics';
import { timingClock } from './server-timing';

export interface TraceVariables {
  trace: RequestTrace;
}

/** This isolate's span exports. */
const spanBatcher = new SpanBatcher();

/** The longest a request's spans wait for its stream to settle before they are sent as they are. */
const SETTLE_WAIT_MS = 15 * 60_000;

/** The ids every log line about a request carries. */
export function logIds(c: Context<AppEnv>): { request_id: string | undefined; trace_id: string | undefined } {
  // Typed as always set; undefined in an app that does not mount these middlewares.
  const trace: RequestTrace | undefined = c.get('trace');
  return { request_id: c.get('requestId'), trace_id: trace?.traceId };
}

function configOf(c: Context<AppEnv>): Config | undefined {
  try {
    return c.get('config') ?? (c.env ? getConfig(c.env) : undefined);
  } catch {
    // A misconfigured edge answers its own error; it traces nothing.
    return undefined;
  }
}

export function traceContext(): MiddlewareHandler<AppEnv> {
  return async function traceContext(c, next) {
    const incoming = parseTraceparent(c.req.header(TRACEPARENT_HEADER), c.req.header(TRACESTATE_HEADER));
    const trace = startRequestTrace(incoming, configOf(c)?.traces.sampleRatio ?? 1, Date.now(), timingClock());
    c.set('trace', trace);
    await next();
    const config = configOf(c);
    if (!isExported(trace, config)) return;
    const { endpoint, timeoutMs } = config.traces;
    const facts = requestFacts(c);
    runInBackground(
      c,
      (async () => {
        const settlement = facts.settlement ? await withDeadline(facts.settlement, SETTLE_WAIT_MS, 'the settlement').catch(() => undefined) : undefined;
        const endedAt = Date.now();
        const timing = c.get('timing');
        await spanBatcher.add({ endpoint, timeoutMs, environment: config.environment }, () =>
          requestSpans(trace, timing?.phases() ?? [], facts.finish(settlement, endedAt)),
        );
      })(),
    );
  };
}

/** What the response says now, and how to complete it once the request settles. */
function requestFacts(c: Context<AppEnv>): { settlement?: Promise<Settlement>; finish(s: Settlement | undefined, endedAt: number): RequestFacts } {
  const status = c.res.status;
  const route = routeLabel(c);
  const outcome = c.get('outcome');
  const inference = c.get('inference');
  const backend = c.res.headers.get('x-backend') ?? undefined;
  const common = {
    [A.httpMethod]: c.req.method,
    [A.httpRoute]: route,
    [A.httpStatus]: status,
    [A.requestId]: c.get('requestId'),
    [A.tenantId]: c.get('auth')?.tenantId,
    [A.errorCode]: outcome?.code,
  };
  const name = `${c.req.method} ${route}`;
  if (!inference) return { finish: (_s, endedAt) => ({ name, endedAt, attributes: common, error: status >= 500 ? outcome?.code : undefined }) };
  const { req, call } = inference;
  const genAi = {
    ...genAiAttributes(req.model, req.flavour === 'completion' || req.flavour === 'infer' ? 'text_completion' : 'chat'),
    [A.genAiRequestMaxTokens]: call.payload.params?.max_tokens,
    [A.genAiRequestTemperature]: call.payload.params?.temperature,
    [A.stream]: req.stream,
  };
  return {
    ...(outcome?.settlement ? { settlement: outcome.settlement } : {}),
    finish: (s, endedAt) => {
      const answered = s?.kind === 'answered' ? s.entry : undefined;
      const usage = answered
        ? {
            [A.genAiInputTokens]: answered.usage.prompt_tokens,
            [A.genAiOutputTokens]: answered.usage.completion_tokens,
            ...(answered.finishReason ? { [A.genAiResponseFinishReasons]: [answered.finishReason] } : {}),
          }
        : {};
      const cache = s?.kind === 'answered' ? (s.source === 'backend' ? 'MISS' : s.source) : s?.kind;
      const failed = status >= 500 || s?.kind === 'cut' ? (outcome?.code ?? s?.kind) : undefined;
      return {
        name,
        endedAt,
        attributes: { ...common, ...genAi, ...usage, [A.cache]: cache, [A.backend]: backend },
        error: failed,
        upstream: { ...genAi, ...(s?.kind === 'answered' && s.source === 'backend' ? usage : {}), [A.backend]: backend },
      };
    },
  };
}
