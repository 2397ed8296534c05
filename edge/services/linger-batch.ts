/**
 * Work an isolate's requests hand over after their answers (usage records, trace spans), sent in
 * batches rather than one subrequest per request: what requests add for one key within a short
 * linger leaves together, from the `waitUntil` of the request that opened the batch. A batch that
 * fills up leaves at once, from the request that filled it, so nothing waits unbounded in memory
 * and nothing is dropped. Items are plain data or builders (closures over values already taken),
 * so no request ever waits on another's I/O (services/cross-request.ts): the request that sends a
 * batch makes the subrequest in its own context. Durability is the `waitUntil`'s, as when each
 * request sent its own: the batch lives as long as the request that sends it.
 */

/** A batch still taking items, and when it has been sent (settled by whichever request sends it). */
interface OpenBatch<T> {
  readonly items: T[];
  readonly sent: Promise<void>;
  readonly markSent: () => void;
}

export class LingerBatcher<T> {
  readonly #lingerMs: number;
  readonly #maxItems: number;
  readonly #open = new Map<string, OpenBatch<T>>();

  /** `lingerMs`: how long a batch stays open; `maxItems`: a batch that reaches this size leaves at once. */
  constructor(lingerMs: number, maxItems: number) {
    if (maxItems < 1) throw new Error('LingerBatcher: maxItems must be at least 1');
    this.#lingerMs = lingerMs;
    this.#maxItems = maxItems;
  }

  /**
   * Adds `item` to `key`'s open batch, or opens one. Returns the batch's send when this call is the
   * one to send it (it opened the batch, or filled it): hand that promise to the request's
   * `waitUntil`. Undefined when another request will send it. `send` is this request's way to send
   * a batch of the key; every request passes an equivalent one.
   */
  add(key: string, item: T, send: (items: readonly T[]) => Promise<void>): Promise<void> | undefined {
    const open = this.#open.get(key);
    if (open) {
      open.items.push(item);
      if (open.items.length < this.#maxItems) return undefined;
      this.#open.delete(key);
      return send(open.items).finally(open.markSent);
    }
    if (this.#maxItems === 1) return send([item]);
    let markSent!: () => void;
    const sent = new Promise<void>((resolve) => {
      markSent = resolve;
    });
    const batch: OpenBatch<T> = { items: [item], sent, markSent };
    this.#open.set(key, batch);
    return (async () => {
      await new Promise((resolve) => setTimeout(resolve, this.#lingerMs));
      // Filled and sent by another request meanwhile: nothing left to do.
      if (this.#open.get(key) !== batch) return;
      this.#open.delete(key);
      await send(batch.items).finally(markSent);
    })();
  }

  /**
   * When the batch `key` has open now is sent (settled either way, by whichever request sends it),
   * for a request whose item joined it; undefined when none is open. It settles in the sending
   * request's I/O context, so what hangs on it may only change plain data (services/cross-request.ts).
   */
  whenSent(key: string): Promise<void> | undefined {
    return this.#open.get(key)?.sent;
  }
}
