/** Bounds how long the edge waits for a dependency (the store, an issuer) on a request's path. */

/** Raised when a bounded call did not settle in time. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
}

/** Resolves or rejects like `promise`, or rejects with DeadlineExceededError after `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * The longest a stream may wait upstream between two events, with one timer for the whole stream
 * rather than one per event: the timer fires at most once per `ms`, and then looks at how long the
 * current wait (from {@link waiting} to {@link resumed}) has lasted, so time the consumer spends
 * on an event never counts. `onIdle` runs once, when a single wait reaches `ms`.
 */
export class IdleWatch {
  readonly #ms: number;
  readonly #onIdle: () => void;
  #since: number | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #fired = false;

  constructor(ms: number, onIdle: () => void) {
    this.#ms = ms;
    this.#onIdle = onIdle;
  }

  /** A wait upstream begins. */
  waiting(): void {
    this.#since = Date.now();
    if (this.#timer === undefined && !this.#fired) this.#arm(this.#ms);
  }

  /** The wait ended (an event or the end arrived). */
  resumed(): void {
    this.#since = undefined;
  }

  /** No more waits: clears the timer. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#fired = true;
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#since === undefined) return;
      const waited = Date.now() - this.#since;
      if (waited < this.#ms) return this.#arm(this.#ms - waited);
      this.#fired = true;
      this.#onIdle();
    }, ms);
  }
}
