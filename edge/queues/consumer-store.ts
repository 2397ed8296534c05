/**
 * The store as the queue consumers use it: every call has a deadline (the configured store timeout,
 * as on request paths), and every failure — a refused or dropped connection, an error answer from
 * the REST API, no answer in time — becomes a {@link StoreUnavailableError}, so a consumer can tell
 * a store outage from a failure of its work and retry each on its own schedule.
 */
import { withDeadline } from '../services/deadline';
import type { Store } from '../services/store';
import { StoreUnavailableError } from './outcome';

// One wrapper per client and timeout: the limiter keys its per-store state on the store object.
const wrappers = new WeakMap<Store, Map<number, Store>>();

/** `store` with each call bounded by `timeoutMs` and failing with StoreUnavailableError (memoised). */
export function consumerStore(store: Store, timeoutMs: number): Store {
  let byTimeout = wrappers.get(store);
  if (!byTimeout) {
    byTimeout = new Map();
    wrappers.set(store, byTimeout);
  }
  let wrapped = byTimeout.get(timeoutMs);
  if (!wrapped) {
    wrapped = guarded(store, timeoutMs);
    byTimeout.set(timeoutMs, wrapped);
  }
  return wrapped;
}

function guarded(store: Store, timeoutMs: number): Store {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const command = String(property);
      return async (...args: unknown[]) => {
        try {
          return await withDeadline(Promise.resolve(value.apply(target, args) as unknown), timeoutMs, `the store (${command})`);
        } catch (err) {
          // The original message stays in ours: callers such as the limiter recognise NOSCRIPT in it.
          throw new StoreUnavailableError(`store ${command} failed: ${err instanceof Error ? err.message.slice(0, 300) : String(err)}`, { cause: err });
        }
      };
    },
  });
}
