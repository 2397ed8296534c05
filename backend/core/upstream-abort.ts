/**
 * One AbortController per upstream call, aborted by whichever comes first: the caller going away
 * (→ ClientClosedError) or a timer (→ the timeout error it was armed with; re-armed per chunk for
 * idle timeouts). The reason it fired is kept so a generic SDK/fetch "aborted" error can be told
 * apart from a timeout.
 */
import { ClientClosedError, type AdapterError } from './errors';

/** The abort signal of one upstream call, with the reason it fired. */
export class UpstreamAbort {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reason: AdapterError | undefined;
  readonly #onCallerAbort = () => this.#fire(new ClientClosedError({ cause: this.#caller.reason }));

  constructor(caller: AbortSignal) {
    this.#caller = caller;
    if (caller.aborted) this.#onCallerAbort();
    else caller.addEventListener('abort', this.#onCallerAbort, { once: true });
  }

  /** The signal to pass to the upstream call. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Why the call was aborted (a timeout or the caller leaving), if it was. */
  get reason(): AdapterError | undefined {
    return this.#reason;
  }

  /** (Re)starts the timer: after `ms` the call is aborted with `error()`. */
  arm(ms: number, error: () => AdapterError): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#fire(error()), ms);
  }

  /** Cancels the upstream call (e.g. after a failure mid-stream) without recording a reason. */
  cancel(): void {
    clearTimeout(this.#timer);
    if (!this.#controller.signal.aborted) this.#controller.abort();
  }

  /** Stops the timer and detaches from the caller's signal. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#caller.removeEventListener('abort', this.#onCallerAbort);
  }

  #fire(reason: AdapterError): void {
    if (this.#controller.signal.aborted) return;
    this.#reason = reason;
    clearTimeout(this.#timer);
    this.#controller.abort(reason);
  }
}
