/**
 * Background work after the response: `executionCtx.waitUntil` when the request has one (always in
 * the Workers runtime), else the promise simply runs on (`app.request` in tests has no context).
 * Failures are logged, never thrown at a client that already has its answer.
 */
import type { Context } from 'hono';
import { describeError, log } from './log';

export function runInBackground(c: Context, work: Promise<unknown>): void {
  const guarded = work.catch((err: unknown) => log('warn', 'background work failed', describeError(err)));
  try {
    c.executionCtx.waitUntil(guarded);
  } catch {
    // No ExecutionContext: the promise still runs to completion on its own.
  }
}

/**
 * Runs `work` on a later turn of the event loop than its caller's, so the response the caller is
 * building reaches the runtime first: background I/O started while the answer settles (a cache
 * write, say) would otherwise be built and sent ahead of it, on the request's critical path.
 */
export async function nextTurn<T>(work: () => Promise<T>): Promise<T> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  return work();
}

/** {@link runInBackground} bound to one request, for code that takes a `(promise) => void` sink. */
export function backgroundFor(c: Context): (work: Promise<unknown>) => void {
  return (work) => runInBackground(c, work);
}

/** Background work a queue consumer starts (refunds, removals, notices), drained before its handler returns. */
export function pendingWork() {
  const work: Promise<unknown>[] = [];
  return {
    background: (p: Promise<unknown>) => {
      work.push(p.catch(() => {}));
    },
    // Work may start more work (a quota lease's idle watch gives units back): drain until none is
    // left, so nothing is still in flight when the attempt, and with it its I/O, ends.
    settled: async () => {
      for (let done = 0; done < work.length; ) {
        const batch = work.slice(done);
        done = work.length;
        await Promise.all(batch);
      }
    },
  };
}
