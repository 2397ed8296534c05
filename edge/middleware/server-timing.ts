/**
 * `Server-Timing` on every response (SPEC §2), so clients and the bench see where the time goes:
 * `auth`, `limits;desc="lease|store|local"` (an admission: from the isolate's quota leases alone, after
 * a store round trip, or from the outage limiter), `cache;desc="L0|L1|L2|COALESCED|MISS|BYPASS"`,
 * `upstream` and `total`, each
 * measured by the middleware or stage that owns the phase (auth, quota, response cache, forward)
 * and written here, once, when the response leaves the handler. That is before the first byte of a
 * stream: there `upstream` is the time to the backend's first event and `total` the time to the
 * headers. Phases that did not run (no auth on /health, no upstream on a hit) are absent.
 *
 * Phases may overlap: the cache lookup runs while the limits are checked, in one store round trip.
 * In workerd the clock advances only across I/O, so a phase that does none reads 0.
 *
 * The same measurements are the request's trace spans (middleware/trace.ts reads {@link
 * ServerTiming.phases}): one clock, one place. `route` (planning the upstream call) is a span only;
 * the header keeps the phases SPEC §2 names.
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';

/** A measured phase: the header's four, and `route`, which only the trace shows. */
export type TimedPhase = 'auth' | 'limits' | 'cache' | 'route' | 'upstream';

/** One phase as measured: start and end on {@link timingClock}, and its outcome. */
export interface MeasuredPhase {
  readonly phase: TimedPhase;
  readonly start: number;
  readonly end: number;
  readonly desc?: string | undefined;
}

/** Ends a phase now, or at `endedAt` (a {@link timingClock} reading); `desc` names its outcome (the cache tier). */
export type StopTimer = (desc?: string, endedAt?: number) => void;

/** The clock of every phase (ms). */
export const timingClock = (): number => performance.now();

const ORDER: readonly TimedPhase[] = ['auth', 'limits', 'cache', 'upstream'];
const TRACE_ORDER: readonly TimedPhase[] = ['auth', 'limits', 'cache', 'route', 'upstream'];

/** The phases of one request, as their owners measured them. */
export class ServerTiming {
  readonly #entries = new Map<TimedPhase, MeasuredPhase>();

  /** Starts timing `phase`; the returned function ends it (only its first call counts). */
  start(phase: TimedPhase): StopTimer {
    const started = timingClock();
    let stopped = false;
    return (desc, endedAt) => {
      if (stopped) return;
      stopped = true;
      const end = endedAt ?? timingClock();
      if (!this.#entries.has(phase)) this.#entries.set(phase, { phase, start: started, end: Math.max(started, end), desc });
    };
  }

  /** The phases that ran, in request order. */
  phases(): MeasuredPhase[] {
    return TRACE_ORDER.map((phase) => this.#entries.get(phase)).filter((p): p is MeasuredPhase => p !== undefined);
  }

  /** The header value: the phases in request order, `total` last. */
  header(totalMs: number): string {
    const parts: string[] = [];
    for (const phase of ORDER) {
      const recorded = this.#entries.get(phase);
      if (recorded) parts.push(entry(phase, recorded.end - recorded.start, recorded.desc));
    }
    parts.push(entry('total', totalMs));
    return parts.join(', ');
  }
}

const entry = (name: string, ms: number, desc?: string) => `${name}${desc ? `;desc="${desc}"` : ''};dur=${Math.round(Math.max(0, ms) * 10) / 10}`;

export interface ServerTimingVariables {
  timing: ServerTiming;
}

const noop: StopTimer = () => {};

/** Starts timing `phase` of this request (a no-op where the middleware is not mounted). */
export function timePhase(c: Context<AppEnv>, phase: TimedPhase): StopTimer {
  // Typed as always set; undefined only in an app that does not mount serverTiming().
  const timing: ServerTiming | undefined = c.get('timing');
  return timing?.start(phase) ?? noop;
}

export function serverTiming(): MiddlewareHandler<{ Variables: ServerTimingVariables }> {
  return async function serverTimingMiddleware(c, next) {
    const started = timingClock();
    const timing = new ServerTiming();
    c.set('timing', timing);
    await next();
    c.res.headers.set('Server-Timing', timing.header(timingClock() - started));
  };
}
