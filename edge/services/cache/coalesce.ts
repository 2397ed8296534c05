/**
 * Request coalescing within an isolate: the first cache-eligible miss for a key leads (calls the
 * backend), identical misses arriving while it runs follow it instead of calling the backend.
 *
 * The leader's answer is a {@link Flight}: a streaming leader publishes each token as it passes, so
 * a streaming follower replays what was already sent and then receives the live tail; a sync
 * follower waits for the whole entry. A leader that fails or is cut ends its flight at once; its
 * followers then make their own call (see edge/stages/response-cache.ts), a streaming follower
 * continuing after the text it already sent ({@link continueAfter}), so a failed leader never
 * poisons or hangs anyone.
 *
 * Only plain data crosses from the leader's request to its followers: a follower never awaits the
 * leader, it reads the flight's state on timers of its own (services/cross-request.ts).
 */
import type { BackendStreamEvent, TokenData } from '../../../shared/contracts/backend';
import { pollUntil } from '../cross-request';
import { type CacheEntry, type Chunk, chunkOf, replayEvents, tokenOf } from './entry';

/** The longest a follower sleeps between two looks at its flight (ms): it adds at most this to each token. */
const FLIGHT_POLL_MS = 2;

export class LeaderFailedError extends Error {
  override readonly name = 'LeaderFailedError';
}

type Outcome = { readonly entry: CacheEntry } | { readonly error: Error };

/** One leader's answer as it grows. */
export class Flight {
  readonly #chunks: Chunk[] = [];
  #outcome: Outcome | undefined;

  /** Tokens published so far, as recorded chunks. */
  get chunks(): readonly Chunk[] {
    return this.#chunks;
  }

  /** The whole entry once the leader answered. */
  get entry(): CacheEntry | undefined {
    return this.#outcome && 'entry' in this.#outcome ? this.#outcome.entry : undefined;
  }

  /** Whether the leader failed or was cut. */
  get failed(): boolean {
    return this.#outcome !== undefined && 'error' in this.#outcome;
  }

  /** The leader passed a token on. */
  publish(token: TokenData): void {
    if (this.#outcome) return;
    this.#chunks.push(chunkOf(token));
  }

  /** The leader's whole answer. */
  complete(entry: CacheEntry): void {
    if (this.#outcome) return;
    this.#outcome = { entry };
  }

  /** The leader has no (more) answer. */
  fail(error: Error): void {
    if (this.#outcome) return;
    this.#outcome = { error };
  }

  /**
   * Waits until more than `seen` chunks are published or the flight ends; false after `ms` (or
   * `signal`) with neither. A follower looks every {@link FLIGHT_POLL_MS} at most: what it waits
   * for is a token its client is waiting for too, and the looks are plain reads of this flight.
   */
  #changed(seen: number, ms: number, signal?: AbortSignal): Promise<boolean> {
    return pollUntil(() => this.#outcome !== undefined || this.#chunks.length > seen, ms, signal, FLIGHT_POLL_MS);
  }

  /** The whole entry, or undefined when the leader fails or takes longer than `ms`. */
  async answer(ms: number): Promise<CacheEntry | undefined> {
    const deadline = Date.now() + ms;
    while (!this.#outcome) {
      const left = deadline - Date.now();
      if (left <= 0 || !(await this.#changed(this.#chunks.length, left))) return undefined;
    }
    return this.entry;
  }

  /** Waits for the first token or the answer; false when the leader failed first or `ms` passed. */
  async started(ms: number): Promise<boolean> {
    await this.#changed(0, ms);
    return this.entry !== undefined || (!this.failed && this.#chunks.length > 0);
  }

  /**
   * The flight as backend stream events: every token published so far, then each new one as the
   * leader publishes it, then `done` from the leader's entry. Throws {@link LeaderFailedError} when
   * the leader fails or publishes nothing for `idleMs`; ends quietly when `signal` aborts.
   */
  async *events(idleMs: number, signal?: AbortSignal): AsyncGenerator<BackendStreamEvent, void, undefined> {
    let seen = 0;
    for (;;) {
      while (seen < this.#chunks.length) yield { event: 'token', data: tokenOf(this.#chunks[seen++]!) };
      const entry = this.entry;
      if (entry) {
        // Tokens the leader recorded but had not published yet (a sync leader publishes none).
        yield* replayEvents({ ...entry, chunks: entry.chunks.slice(seen) });
        return;
      }
      if (this.failed) throw new LeaderFailedError('the leading request did not complete');
      const changed = await this.#changed(seen, idleMs, signal);
      if (signal?.aborted) return;
      if (!changed) throw new LeaderFailedError(`the leading request sent nothing for ${idleMs} ms`);
    }
  }
}

export interface Leadership {
  /** Passes one token of a streaming answer to the followers as it is sent. */
  publish(token: TokenData): void;
  /**
   * Hands the whole answer to every follower. The flight stays visible to late arrivals until
   * `stored` settles (the cache write), closing the gap between the answer and its cache entry.
   */
  resolve(entry: CacheEntry, stored?: Promise<unknown>): void;
  /** Tells the followers the leader has no (more) answer for them. */
  reject(reason: Error): void;
}

export class Coalescer {
  // In flight only: an entry lives from the leader's start to its answer or failure.
  readonly #inflight = new Map<string, Flight>();

  /** The flight to follow when an identical request is in flight, else undefined. */
  follow(key: string): Flight | undefined {
    return this.#inflight.get(key);
  }

  /** Registers the caller as the leader for `key` (the caller checked {@link follow} first). */
  lead(key: string): Leadership {
    const flight = new Flight();
    this.#inflight.set(key, flight);
    const finish = () => {
      if (this.#inflight.get(key) === flight) this.#inflight.delete(key);
    };
    return {
      publish: (token) => flight.publish(token),
      resolve: (entry, stored) => {
        if (flight.entry || flight.failed) return;
        flight.complete(entry);
        if (stored) void stored.finally(finish);
        else finish();
      },
      reject: (reason) => {
        if (flight.entry || flight.failed) return;
        finish();
        flight.fail(reason);
      },
    };
  }
}

/**
 * A follower's own stream after its leader failed, continuing where the follower's client stopped:
 * the tokens of `events` that repeat the text already `sent` are dropped, the rest passes. A
 * deterministic request repeats it exactly; when the new stream diverges from what was sent, the
 * stream ends with an error event rather than splicing two different answers.
 */
export async function* continueAfter(
  sent: string,
  events: AsyncGenerator<BackendStreamEvent, void, undefined>,
): AsyncGenerator<BackendStreamEvent, void, undefined> {
  let repeated = '';
  const diverged: BackendStreamEvent = {
    event: 'error',
    data: { code: 'UPSTREAM_ERROR', message: 'the shared stream was interrupted and its retry answered differently' },
  };
  try {
    for await (const event of events) {
      if (repeated.length >= sent.length || event.event === 'error') {
        yield event;
        if (event.event !== 'token') return;
        continue;
      }
      if (event.event === 'done') {
        yield repeated === sent ? event : diverged;
        return;
      }
      const text = repeated + event.data.text;
      if (text.length <= sent.length ? !sent.startsWith(text) : !text.startsWith(sent)) {
        yield diverged;
        return;
      }
      repeated = text;
      if (text.length > sent.length) yield { event: 'token', data: { text: text.slice(sent.length) } };
    }
  } finally {
    await events.return(undefined);
  }
}
