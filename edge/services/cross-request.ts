/**
 * Waiting on work that another request may be doing, in workerd.
 *
 * An isolate serves many requests at once, and some work is shared between them: a quota lease's
 * store command, a tenant record being loaded, a coalesced leader's answer. Without the
 * `handle_cross_request_promise_resolution` behaviour, workerd runs a promise's continuations in the
 * I/O context of the request that settles it, and cancels as hung a request that has no I/O of its
 * own pending. A request that awaited another request's promise directly would therefore either go
 * on inside that other request (and fail on its first touch of its own streams, signals or timers:
 * "Cannot perform I/O on behalf of a different request") or be cancelled while it waits.
 *
 * This worker's compatibility date turns that behaviour on in Cloudflare and under `npm start` (a
 * promise settled from another request then resumes its awaiters in the request that created it),
 * but @cloudflare/vitest-pool-workers forces `no_handle_cross_request_promise_resolution` on the
 * worker it tests. Waking a waiter through a promise of its own would work where it is deployed and
 * fail where it is proven (tried: followers woken that way wrote their usage records from the
 * leader's request in the pool, while 60 coalesced streams through `npm start` had no such error).
 *
 * So a waiter never awaits shared work: the shared work only changes plain data, and the waiter
 * looks at it on timers of its own, every millisecond at first, backing off to {@link MAX_POLL_MS}
 * while nothing changes. It resumes in its own request, always, under either behaviour.
 */

import { DeadlineExceededError } from './deadline';

/** The longest a waiter sleeps between two looks, by default. */
export const MAX_POLL_MS = 8;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Resolves true once `ready()` holds, false after `ms` or once `signal` aborts, looking on the
 * caller's own timers (see the module comment), at most `maxPollMs` apart.
 */
export async function pollUntil(ready: () => boolean, ms: number, signal?: AbortSignal, maxPollMs = MAX_POLL_MS): Promise<boolean> {
  const deadline = Date.now() + ms;
  let wait = 1;
  while (!ready()) {
    const left = deadline - Date.now();
    if (left <= 0 || signal?.aborted) return false;
    await sleep(Math.min(wait, left));
    wait = Math.min(wait * 2, maxPollMs);
  }
  return true;
}

/**
 * The value of `shared`, a promise that another request may settle, awaited so that the caller
 * resumes in its own request (see the module comment); DeadlineExceededError when it has not
 * settled within `ms`. A promise already settled answers after one microtask turn, with no timer.
 */
export async function awaitShared<T>(shared: Promise<T>, ms: number, what: string): Promise<T> {
  const box: { outcome?: { readonly value: T } | { readonly error: unknown } } = {};
  shared.then(
    (value) => {
      box.outcome = { value };
    },
    (error: unknown) => {
      box.outcome = { error };
    },
  );
  await Promise.resolve();
  if (!box.outcome && !(await pollUntil(() => box.outcome !== undefined, ms))) {
    throw new DeadlineExceededError(`${what} did not answer within ${ms} ms`);
  }
  const outcome = box.outcome!;
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}
