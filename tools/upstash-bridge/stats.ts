/**
 * Counters the tests read to count round trips: HTTP requests by outcome and Redis commands by
 * name. Requests to `/_bridge/*` are not counted, so reading the stats does not change them.
 */

/** A snapshot of the bridge's counters since start or the last reset. */
export interface BridgeStats {
  /** HTTP requests to the Redis endpoints, whatever their outcome (one per client round trip). */
  readonly httpRequests: number;
  /** Requests answered 401 (missing or wrong token); nothing of theirs ran. */
  readonly unauthorizedRequests: number;
  /** Requests refused before reaching Redis: malformed, too large, wrong method. */
  readonly invalidRequests: number;
  /** Valid single-command requests (`POST /` and the path style). */
  readonly commandRequests: number;
  /** Valid `POST /pipeline` requests. */
  readonly pipelineRequests: number;
  /** Valid `POST /multi-exec` requests. */
  readonly transactionRequests: number;
  /** Commands sent to Redis (MULTI/EXEC wrappers and refused commands not included). */
  readonly redisCommands: number;
  /** {@link redisCommands} by lower-case command name, e.g. `{ evalsha: 2, eval: 1 }`. */
  readonly commandsByName: Readonly<Record<string, number>>;
}

/** The kinds of request outcome the counters distinguish. */
export type RequestKind = 'unauthorized' | 'invalid' | 'command' | 'pipeline' | 'transaction';

const FIELD: Record<RequestKind, Exclude<keyof BridgeStats, 'httpRequests' | 'redisCommands' | 'commandsByName'>> = {
  unauthorized: 'unauthorizedRequests',
  invalid: 'invalidRequests',
  command: 'commandRequests',
  pipeline: 'pipelineRequests',
  transaction: 'transactionRequests',
};

/** Mutable counters behind {@link BridgeStats}. */
export class StatsRecorder {
  private counts = StatsRecorder.empty();
  private byName = new Map<string, number>();

  /** Counts one HTTP request with its outcome. */
  request(kind: RequestKind): void {
    this.counts.httpRequests += 1;
    this.counts[FIELD[kind]] += 1;
  }

  /** Counts one command sent to Redis. */
  command(name: string): void {
    this.counts.redisCommands += 1;
    this.byName.set(name, (this.byName.get(name) ?? 0) + 1);
  }

  /** A copy of the counters. */
  snapshot(): BridgeStats {
    return { ...this.counts, commandsByName: Object.fromEntries(this.byName) };
  }

  /** Sets every counter back to zero. */
  reset(): void {
    this.counts = StatsRecorder.empty();
    this.byName = new Map();
  }

  private static empty(): { -readonly [K in Exclude<keyof BridgeStats, 'commandsByName'>]: number } {
    return {
      httpRequests: 0,
      unauthorizedRequests: 0,
      invalidRequests: 0,
      commandRequests: 0,
      pipelineRequests: 0,
      transactionRequests: 0,
      redisCommands: 0,
    };
  }
}
