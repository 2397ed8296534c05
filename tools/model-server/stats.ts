/**
 * Counters of the reference model server: per route, per endpoint (or OpenAI model), per status,
 * and for injected faults — what tests read through `GET /admin/stats` to prove, e.g., that a
 * client disconnect cancelled generation upstream.
 */

/** The inference routes, as they appear in {@link ModelServerStats.byRoute}. */
export type RouteName =
  | 'sagemaker.invoke'
  | 'sagemaker.invokeStream'
  | 'container.invocations'
  | 'openai.chat'
  | 'openai.completions'
  | 'openai.responses'
  | 'tgi.generate'
  | 'tgi.generateStream'
  | 'sagemaker.embeddings'
  | 'openai.embeddings'
  | 'tei.embeddings';

/** Counters kept for the totals, each route and each endpoint. */
export interface Counters {
  /** Inference requests received. */
  invocations: number;
  /** Answered in full: a 200 body sent, or a stream completed. */
  succeeded: number;
  /** Answered with an error status (before any streaming). */
  failed: number;
  /** Streaming responses begun (200 + headers sent). */
  streamsStarted: number;
  streamsCompleted: number;
  /** Streams failed on purpose by `streamCutAfter`. */
  streamsCut: number;
  /** The client went away first (sync or stream); generation stopped. */
  cancelled: number;
  /** Prompt tokens of the requests that reached generation. */
  promptTokens: number;
  /** Tokens produced: all of a sync answer, or those sent before a stream ended, was cut or cancelled. */
  tokensGenerated: number;
}

/** What `GET /admin/stats` returns. */
export interface ModelServerStats {
  /** ISO time of start or last reset. */
  readonly since: string;
  readonly inFlight: number;
  readonly totals: Counters;
  readonly byRoute: Partial<Record<RouteName, Counters>>;
  /** Keyed by SageMaker endpoint name, or by `model` (else the configured model name) on other routes. */
  readonly byEndpoint: Record<string, Counters>;
  /** Final HTTP status of each invocation (200 for streams). */
  readonly byStatus: Record<string, number>;
  /** Injected faults by kind. */
  readonly faults: { warming: number; forced: number; errorRate: number; streamCut: number };
}

/** How a stream or a sync wait ended. */
export type StreamOutcome = 'completed' | 'cut' | 'cancelled';

const MAX_ENDPOINT_KEYS = 1000;

function zero(): Counters {
  return { invocations: 0, succeeded: 0, failed: 0, streamsStarted: 0, streamsCompleted: 0, streamsCut: 0, cancelled: 0, promptTokens: 0, tokensGenerated: 0 };
}

/** The lifecycle of one invocation, as the routes report it. */
export interface InvocationRecord {
  /** The endpoint key can be known only after the body is read (OpenAI `model`). */
  setTarget(target: string): void;
  /** The route too (a SageMaker endpoint embeds or generates, by the body), before anything is counted. */
  setRoute(route: RouteName): void;
  fault(kind: 'warming' | 'forced' | 'errorRate'): void;
  failed(status: number): void;
  succeeded(promptTokens: number, tokens: number): void;
  streamStarted(promptTokens: number): void;
  streamEnded(outcome: StreamOutcome, tokens: number): void;
  /** Cancelled before any response was sent (e.g. during a sync wait). */
  cancelled(promptTokens: number): void;
}

/** Collects counters; {@link StatsRecorder.snapshot} is a deep copy. */
export class StatsRecorder {
  private since = new Date();
  private inFlight = 0;
  private totals = zero();
  private byRoute: Partial<Record<RouteName, Counters>> = {};
  private byEndpoint = new Map<string, Counters>();
  private byStatus: Record<string, number> = {};
  private faults = { warming: 0, forced: 0, errorRate: 0, streamCut: 0 };

  /** Starts recording an invocation on `route` for `target`. */
  begin(initialRoute: RouteName, target: string): InvocationRecord {
    let key = target;
    let route = initialRoute;
    let done = false;
    this.inFlight++;
    const bump = (update: (c: Counters) => void) => {
      const counters = this.byRoute[route] ?? zero();
      this.byRoute[route] = counters;
      for (const c of [this.totals, counters, this.endpointCounters(key)]) update(c);
    };
    const finish = (status: number | null) => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (status !== null) this.byStatus[String(status)] = (this.byStatus[String(status)] ?? 0) + 1;
    };
    let invocationCounted = false;
    const countInvocation = () => {
      if (invocationCounted) return;
      invocationCounted = true;
      bump((c) => c.invocations++);
    };
    return {
      setTarget: (target) => {
        if (!invocationCounted) key = target;
      },
      setRoute: (next) => {
        if (!invocationCounted) route = next;
      },
      fault: (kind) => this.faults[kind]++,
      failed: (status) => {
        countInvocation();
        bump((c) => c.failed++);
        finish(status);
      },
      succeeded: (promptTokens, tokens) => {
        countInvocation();
        bump((c) => {
          c.succeeded++;
          c.promptTokens += promptTokens;
          c.tokensGenerated += tokens;
        });
        finish(200);
      },
      streamStarted: (promptTokens) => {
        countInvocation();
        bump((c) => {
          c.streamsStarted++;
          c.promptTokens += promptTokens;
        });
      },
      streamEnded: (outcome, tokens) => {
        bump((c) => {
          c.tokensGenerated += tokens;
          if (outcome === 'completed') {
            c.streamsCompleted++;
            c.succeeded++;
          } else if (outcome === 'cut') c.streamsCut++;
          else c.cancelled++;
        });
        if (outcome === 'cut') this.faults.streamCut++;
        finish(200);
      },
      cancelled: (promptTokens) => {
        countInvocation();
        bump((c) => {
          c.cancelled++;
          c.promptTokens += promptTokens;
        });
        finish(null);
      },
    };
  }

  private endpointCounters(key: string): Counters {
    const existing = this.byEndpoint.get(key);
    if (existing) return existing;
    const bucket = this.byEndpoint.size < MAX_ENDPOINT_KEYS ? key : '(other)';
    const counters = this.byEndpoint.get(bucket) ?? zero();
    this.byEndpoint.set(bucket, counters);
    return counters;
  }

  /** A copy of every counter. */
  snapshot(): ModelServerStats {
    const copy = (c: Counters): Counters => ({ ...c });
    return {
      since: this.since.toISOString(),
      inFlight: this.inFlight,
      totals: copy(this.totals),
      byRoute: Object.fromEntries(Object.entries(this.byRoute).map(([k, v]) => [k, copy(v)])),
      byEndpoint: Object.fromEntries([...this.byEndpoint].map(([k, v]) => [k, copy(v)])),
      byStatus: { ...this.byStatus },
      faults: { ...this.faults },
    };
  }

  /** Zeroes every counter (requests in flight keep counting in the new period). */
  reset(): void {
    this.since = new Date();
    this.totals = zero();
    this.byRoute = {};
    this.byEndpoint.clear();
    this.byStatus = {};
    this.faults = { warming: 0, forced: 0, errorRate: 0, streamCut: 0 };
  }
}
