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
