/**
 * A quota lease: units of one tenant window that this isolate took from the store ahead of demand
 * and hands out to its requests without a store round trip. The store side is @upstash/ratelimit's
 * fixed window: `limit(id, { rate: n })` is one atomic `INCRBY n` on the bucket of the current
 * window (derived from the clock at call time), admitted when the result is ≤ L; a negative rate
 * gives units back to the same bucket.
 *
 * Why the limits still hold (edge/services/limits/leases.test.ts proves each against the store):
 * - Every unit handed out was counted by a take that the store admitted, in the bucket it is handed
 *   out in, and is handed out once; a refused take is refunded. So the store's counter always covers
 *   every unit handed out anywhere, and a window never admits more than L across all isolates.
 * - A lease's store commands are serial: a refused take is refunded before the next, smaller one is
 *   sent, and a request is refused only after a take of exactly its own missing units was refused.
 *   From one location that is exact: L are admitted when demand exceeds L. Across K locations the
 *   only quota left unused is what other locations' last refused takes briefly held (at most one
 *   request's units each) plus each location's leftover below one request: at least L − K·u + 1
 *   units are handed out, u being the largest request (L − K + 1 requests for a request window).
 * - Once the store's replies show other isolates taking from the same bucket, a take asks for half
 *   of what the store said remains instead of all of it, so locations in a burst stop refusing each
 *   other round after round (a refused take counts until refunded) on a slow store.
 * - No unit is handed out, and no refund sent, at or after the bucket's reset: the library derives
 *   the bucket from the clock, so a late refund would credit the next window.
 * - Units the isolate does not use go back to the store: after `idleMs` without a request, and at
 *   once when the plan's limit changes (a lease never outlives the plan it was taken under).
 * - A lease in use in the last `idleMs` of its bucket takes the next bucket's units as that bucket
 *   begins (an ordinary take, made once the clock has passed the reset), so a warm tenant's first
 *   request of a new window makes no store round trip either; unused, they go back when idle.
 */
import { nextTurn } from '../background';
import { withDeadline } from '../deadline';
import { describeError, log } from '../log';
import { DemandMeter, leaseTarget, type LeasePolicy } from './lease-sizing';
import { bucketEnd, type LimitWindow } from './windows';

/** What the store answered to one change of a window's counter. */
export interface CounterReply {
  readonly success: boolean;
  /** The window's limit minus its counter after the change, at least 0. */
  readonly remaining: number;
  /** End of the bucket the change went to (epoch ms). */
  readonly reset: number;
}

/** How a lease reaches the store on behalf of one request: its deadline and its background sink. */
export interface LeaseIo {
  /** Adds `rate` to the tenant's counter of `window` in the current bucket; negative gives units back. */
  readonly change: (window: LimitWindow, rate: number) => Promise<CounterReply>;
  readonly timeoutMs: number;
  /** Where work that outlives the caller goes (`executionCtx.waitUntil`). */
  readonly background: (work: Promise<unknown>) => void;
}

/** Units of a lease handed out to one request. */
export interface Grant {
  readonly lease: Lease;
  /** The lease's epoch at hand-out: units of an older epoch go back to the store, not to the lease. */
  readonly epoch: number;
  readonly units: number;
  /** End of the bucket the units were counted in. */
  readonly reset: number;
}

/** How a queued take ended: units, or a refusal with the end of the window that refused. */
export type TakeOutcome = { readonly granted: true; readonly grant: Grant } | { readonly granted: false; readonly reset: number };

/** A take that waits for the store. */
export interface PendingTake {
  readonly outcome: Promise<TakeOutcome>;
  /** The outcome once the lease has decided it, read synchronously; undefined while it waits. */
  decided(): TakeOutcome | undefined;
  /**
   * Whether the store answered this take's lease within the last `ms` while the take waits: it is
   * queued behind store traffic that keeps moving (a burst near the limit on a slow store), not
   * stuck behind an outage.
   */
  storeAnswering(ms: number): boolean;
  /** Withdraws the take; units already handed out for it go back. */
  cancel(): void;
}

/** Clock and timer of a lease (tests inject them). */
export interface LeaseClock {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const realClock: LeaseClock = { now: Date.now, sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/** A request re-arms the idle watch when the current one is older than this; a watch lives at most twice as long (Workers end `waitUntil` work 30 s after the response). */
const IDLE_WATCH_REARM_MS = 10_000;
/** Slack on top of a pump step's two command deadlines before the pump counts as stalled. */
const STALLED_PUMP_MARGIN_MS = 250;

interface Waiter {
  readonly need: number;
  readonly io: LeaseIo;
  readonly resolve: (outcome: TakeOutcome) => void;
  readonly reject: (err: unknown) => void;
  state: 'waiting' | 'done' | 'cancelled';
  /** How the lease decided the take (set with state 'done'). */
  outcome?: TakeOutcome;
  grant?: Grant;
}

type TakeResult = 'granted' | 'refused' | 'stale';

export const isGrant = (take: Grant | PendingTake): take is Grant => 'units' in take;

export class Lease {
  readonly #policy: LeasePolicy;
  readonly #clock: LeaseClock;
  readonly #meter = new DemandMeter();
  #window: LimitWindow;
  /** Bumped when the units on hand stop being valid: a new bucket, or a new limit. */
  #epoch = 0;
  /** End of the bucket the units on hand belong to; 0 while none is known. */
  #reset = 0;
  /** Units counted in the store for this lease and not handed out. */
  #available = 0;
  /** Units taken off `#available` that go back to the store at the next turn of the pump. */
  #returning = 0;
  /** The store's remaining at the last reply, this lease's unused units included; undefined: unknown. */
  #storeRemaining: number | undefined;
  /** End of the bucket of the last refused take, for Retry-After. */
  #refusedReset = 0;
  /** End of the bucket in which the store's replies showed other isolates taking too (0: none). */
  #contendedIn = 0;
  /** End of the bucket in which this lease last refused a request (0: none). */
  #refusedIn = 0;
  #queue: Waiter[] = [];
  /** The pump at work, and when it last made progress; undefined: none. */
  #pumping: { since: number } | undefined;
  #refill = false;
  #lastUse = 0;
  /** When the store last answered one of this lease's commands; 0: never. */
  #lastReply = 0;
  #idleWatch: { readonly armedAt: number } | undefined;
  /** The reset after which a take for the next bucket is scheduled (0: none). */
  #nextBucketAfter = 0;

  constructor(window: LimitWindow, policy: LeasePolicy, clock: LeaseClock = realClock) {
    this.#window = window;
    this.#policy = policy;
    this.#clock = clock;
  }

  /**
   * What the window has left as this isolate knows it: the store's remaining at the last contact
   * plus the units this lease has not handed out yet (other isolates' use since then is not in it).
   */
  remaining(): number {
    return Math.min(this.#window.limit, Math.max(0, (this.#storeRemaining ?? this.#window.limit) + this.#available));
  }

  /**
   * Units of the bucket ending at `reset` used across every isolate as the store last told this
   * lease (its own units on hand not counted as used); undefined when it has no word of that bucket.
   * What the outage limiter starts from, so a location that loses the store mid-window does not
   * admit the whole limit again.
   */
  usedIn(reset: number): number | undefined {
    if (this.#reset !== reset || this.#storeRemaining === undefined) return undefined;
    return this.#window.limit - this.remaining();
  }

  /**
   * Takes `need` units for one request under `window` (the plan in force). Synchronous when the
   * lease has them; otherwise a {@link PendingTake} whose store command, when the lease is idle, is
   * issued before this returns (so a caller's own commands can join its pipelined round trip).
   */
  take(window: LimitWindow, need: number, io: LeaseIo): Grant | PendingTake {
    const now = this.#clock.now();
    this.#roll(now);
    if (window.limit !== this.#window.limit) this.#retire(window);
    if (need <= 0) return { lease: this, epoch: this.#epoch, units: 0, reset: this.#reset > now ? this.#reset : bucketEnd(window, now) };
    if (this.#queue.length === 0 && this.#available >= need && now < this.#reset) return this.#handOut(need, now, io);
    let resolve!: (outcome: TakeOutcome) => void;
    let reject!: (err: unknown) => void;
    const outcome = new Promise<TakeOutcome>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A withdrawn take's failure has no listener left; this one keeps it from surfacing as unhandled.
    outcome.catch(() => {});
    const waiter: Waiter = { need, io, resolve, reject, state: 'waiting' };
    this.#queue.push(waiter);
    this.#run(io);
    return {
      outcome,
      decided: () => waiter.outcome,
      storeAnswering: (ms) => waiter.state === 'waiting' && this.#pumping !== undefined && this.#clock.now() - this.#lastReply <= ms,
      cancel: () => this.#cancel(waiter),
    };
  }

  /**
   * Gives back `units` of a grant (a denied request's, or reserved tokens it did not use): to the
   * lease while its epoch lasts, else to the store while the grant's window lasts. Never rejects.
   */
  giveBack(grant: Grant, units: number, io: LeaseIo): Promise<void> {
    if (units <= 0) return Promise.resolve();
    const now = this.#clock.now();
    this.#roll(now);
    if (grant.epoch === this.#epoch && now < this.#reset) {
      this.#available += units;
      // Queued takes may fit now: served at once, not after the pump's command in flight.
      this.#serve(now);
      this.#armIdleWatch(now, io);
      return Promise.resolve();
    }
    return this.#direct(io, -units, grant.reset);
  }

  /** Charges `units` beyond a grant (tokens used above the reservation): from the lease when it has them, else from the store. Never rejects. */
  charge(grant: Grant, units: number, io: LeaseIo): Promise<void> {
    if (units <= 0) return Promise.resolve();
    const now = this.#clock.now();
    this.#roll(now);
    if (grant.epoch === this.#epoch && now < this.#reset && this.#available >= units) {
      this.#available -= units;
      return Promise.resolve();
    }
    return this.#direct(io, units, grant.reset);
  }

  #handOut(need: number, now: number, io: LeaseIo): Grant {
    this.#available -= need;
    this.#meter.record(need, now);
    this.#lastUse = now;
    const grant: Grant = { lease: this, epoch: this.#epoch, units: need, reset: this.#reset };
    // Refill before the lease runs dry, in the background, so the next requests find units on hand:
    // on the next turn of the event loop, so its store command is not built ahead of this answer.
    if (this.#available * 2 < this.#target(now, need)) {
      this.#refill = true;
      io.background(nextTurn(async () => this.#run(io)));
    }
    // Demand within the last idle period of the bucket (the lease would hold its units that long):
    // the next bucket's units are taken as it begins, so its first requests find them on hand.
    if (this.#reset - now <= this.#policy.idleMs && this.#nextBucketAfter !== this.#reset) {
      this.#nextBucketAfter = this.#reset;
      io.background(this.#takeAtReset(this.#reset, io));
    }
    this.#armIdleWatch(now, io);
    return grant;
  }

  /**
   * Takes the lease target from the bucket that begins at `reset`, once the clock has passed it (the
   * library derives the bucket from the clock when the command is made, so it can only be taken
   * then). Nothing when a request has asked first, or the lease has moved on. Units that then go
   * unused are given back by the idle watch, as any lease's.
   */
  async #takeAtReset(reset: number, io: LeaseIo): Promise<void> {
    for (let now = this.#clock.now(); now < reset; now = this.#clock.now()) await this.#clock.sleep(reset - now);
    const now = this.#clock.now();
    this.#roll(now);
    if (this.#reset !== 0 || this.#queue.length > 0 || this.#pumping) return;
    this.#refill = true;
    this.#run(io);
    this.#armIdleWatch(now, io);
  }

  /**
   * Units the lease should hold ahead of demand. None once it refused a request in this bucket,
   * until the store says the window is far from its limit again: near the limit a refusal may have
   * been caused by other locations' takes in flight, and units taken after it could sit unused here
   * while those locations refuse their own requests.
   */
  #target(now: number, need: number): number {
    const target = leaseTarget(this.#policy, this.#meter, now, this.remaining(), need);
    if (this.#refusedIn !== 0 && this.#refusedIn === this.#reset && target < this.#policy.minRequests * this.#meter.meanNeed(need)) return 0;
    return target;
  }

  /** A new bucket began: the units on hand belonged to the old one. */
  #roll(now: number): void {
    if (this.#reset !== 0 && now >= this.#reset) this.#enter(0);
  }

  #enter(reset: number): void {
    this.#epoch += 1;
    this.#available = 0;
    this.#returning = 0;
    this.#storeRemaining = undefined;
    this.#reset = reset;
  }

  /** The plan's limit changed: the units on hand were taken under the old one and go back. */
  #retire(window: LimitWindow): void {
    this.#returning += this.#available;
    this.#available = 0;
    this.#epoch += 1;
    this.#storeRemaining = undefined;
    this.#window = window;
  }

  #run(io: LeaseIo): void {
    const now = this.#clock.now();
    // A pump works in the I/O context of the request that started it. In workerd that request's
    // pending I/O dies with it, so a pump that has made no progress for longer than its two
    // deadlined commands of a step never will: this request starts another. A stalled pump that
    // does resume still books what its command got, then stops at its next turn.
    if (this.#pumping && now - this.#pumping.since <= 2 * io.timeoutMs + STALLED_PUMP_MARGIN_MS) return;
    const pump = { since: now };
    this.#pumping = pump;
    io.background(this.#pump(io, pump));
  }

  /**
   * The lease's only path to the store, one command at a time: returns first, then takes for the
   * queued requests (their missing units, or the lease target when larger, capped by what the store
   * said remains), a refused take refunded and retried smaller down to the head's missing units,
   * then a background refill. Runs synchronously up to its first store command.
   */
  async #pump(io: LeaseIo, pump: { since: number }): Promise<void> {
    let ceiling = Number.POSITIVE_INFINITY;
    try {
      for (;;) {
        if (this.#pumping !== pump) return;
        const now = this.#clock.now();
        pump.since = now;
        this.#roll(now);
        this.#serve(now);
        if (this.#returning > 0) {
          const units = this.#returning;
          this.#returning = 0;
          await this.#returnUnits(io, units);
          continue;
        }
        const head = this.#queue[0];
        if (!head) {
          if (!this.#refill) break;
          this.#refill = false;
          // Hand-outs during the last command asked again; a lease still over half its target needs nothing yet.
          const target = this.#target(now, 1);
          if (this.#available * 2 < target) await this.#takeFromStore(io, target - this.#available);
          continue;
        }
        const first = head.need - this.#available;
        if (first > ceiling) {
          this.#refuseAbove(ceiling);
          continue;
        }
        const wanted = this.#queue.reduce((sum, w) => sum + w.need, 0) - this.#available;
        let size = Math.max(wanted, this.#target(now, head.need) - this.#available);
        if (this.#storeRemaining !== undefined) size = Math.min(size, Math.max(first, this.#share(this.#storeRemaining)));
        size = Math.max(first, Math.min(size, ceiling));
        const result = await this.#takeFromStore(io, size);
        if (result === 'granted') ceiling = Number.POSITIVE_INFINITY;
        else if (result === 'refused') ceiling = size - 1;
      }
    } catch (err) {
      if (this.#pumping === pump) this.#fail(err);
      else log('warn', 'a stalled quota lease pump failed after another took over', describeError(err));
    } finally {
      if (this.#pumping === pump) this.#pumping = undefined;
    }
  }

  /**
   * How much of what the store said remains one take may ask for: all of it, until the store's
   * replies in this bucket showed other isolates taking too. Locations that each ask for all that
   * remains are then all refused (a refused take counts until it is refunded), round after round on
   * a slow store; asking for half, concurrent takes mostly fit and the window is shared out in a few
   * round trips.
   */
  #share(storeRemaining: number): number {
    return this.#contendedIn !== 0 && this.#contendedIn === this.#reset ? Math.ceil(storeRemaining / 2) : storeRemaining;
  }

  /** Hands units on hand to queued requests, first come first served. */
  #serve(now: number): void {
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (this.#available < head.need || now >= this.#reset) return;
      this.#queue.shift();
      head.grant = this.#handOut(head.need, now, head.io);
      this.#decide(head, { granted: true, grant: head.grant });
    }
  }

  /** Refuses every queued request missing more than `ceiling` units: a take of `ceiling + 1` was just refused. */
  #refuseAbove(ceiling: number): void {
    const reset = this.#refusedReset;
    this.#refusedIn = this.#reset;
    this.#refill = false;
    this.#queue = this.#queue.filter((w) => {
      if (w.need - this.#available <= ceiling) return true;
      this.#decide(w, { granted: false, reset });
      return false;
    });
  }

  #decide(waiter: Waiter, outcome: TakeOutcome): void {
    waiter.state = 'done';
    waiter.outcome = outcome;
    waiter.resolve(outcome);
  }

  async #takeFromStore(io: LeaseIo, size: number): Promise<TakeResult> {
    // What the store said remains of this bucket before the take: a reply that differs from what
    // this take alone would make of it shows other locations taking from the window.
    const bucket = this.#reset;
    const before = this.#storeRemaining;
    const window = this.#window;
    const reply = await this.#apply(io, size);
    const now = this.#clock.now();
    if (reply.success) {
      // Units counted in a bucket that is already over are worth nothing.
      if (now >= reply.reset || reply.reset < this.#reset) return 'stale';
      // The limit changed while the take was on its way: its units were admitted under the old one
      // and go back at the pump's next turn; no request under the new limit is served from them.
      if (this.#window !== window) {
        this.#returning += size;
        return 'stale';
      }
      if (reply.reset > this.#reset) this.#enter(reply.reset);
      if (reply.reset === bucket && before !== undefined && reply.remaining !== before - size) this.#contendedIn = bucket;
      this.#available += size;
      this.#storeRemaining = reply.remaining;
      this.#armIdleWatch(now, io);
      return 'granted';
    }
    this.#refusedReset = reply.reset;
    if (reply.reset === bucket && before !== undefined && size <= before) this.#contendedIn = bucket;
    // After the reset the refused units died with their bucket; a refund now would credit the next one.
    if (now >= reply.reset) return 'stale';
    const back = await this.#apply(io, -size);
    // A reply under a limit retired meanwhile says nothing of what remains under the new one.
    if (this.#window !== window) return 'stale';
    if (back.reset > this.#reset) this.#enter(back.reset);
    if (back.reset === this.#reset) {
      if (back.reset === bucket && before !== undefined && back.remaining !== before) this.#contendedIn = bucket;
      this.#storeRemaining = back.remaining;
    }
    return 'refused';
  }

  async #returnUnits(io: LeaseIo, units: number): Promise<void> {
    if (this.#clock.now() >= this.#reset) return;
    const window = this.#window;
    const reply = await this.#apply(io, -units);
    if (reply.reset === this.#reset && this.#window === window) this.#storeRemaining = reply.remaining;
  }

  /** One store command under the request's deadline. A take that answers after it still counted its units: they go back when it lands. */
  async #apply(io: LeaseIo, rate: number): Promise<CounterReply> {
    const window = this.#window;
    const call = io.change(window, rate);
    try {
      const reply = await withDeadline(call, io.timeoutMs, 'the rate-limit store');
      this.#lastReply = this.#clock.now();
      return reply;
    } catch (err) {
      if (rate > 0) {
        const refund = (reply: CounterReply) =>
          this.#clock.now() < reply.reset
            ? io.change(window, -rate).catch((refundErr: unknown) => log('warn', 'late quota lease refund failed', describeError(refundErr)))
            : undefined;
        // A take that never landed needs no refund.
        io.background(call.then(refund, () => undefined));
      }
      throw err;
    }
  }

  /** A change outside the lease (an old epoch's units, a charge the lease cannot cover), while the grant's window lasts. */
  async #direct(io: LeaseIo, rate: number, reset: number): Promise<void> {
    if (this.#clock.now() >= reset) return;
    await withDeadline(io.change(this.#window, rate), io.timeoutMs, 'the rate-limit store').catch((err: unknown) =>
      log('warn', 'rate limit adjustment failed', { window: `${this.#window.kind} per ${this.#window.name}`, ...describeError(err) }),
    );
  }

  /** The store failed: every queued request learns it (its caller applies the outage policy). */
  #fail(err: unknown): void {
    const waiters = this.#queue;
    this.#queue = [];
    this.#refill = false;
    if (waiters.length === 0) log('warn', 'quota lease refill or return failed', describeError(err));
    for (const w of waiters) {
      w.state = 'done';
      w.reject(err);
    }
  }

  #cancel(waiter: Waiter): void {
    if (waiter.state === 'waiting') {
      waiter.state = 'cancelled';
      this.#queue = this.#queue.filter((w) => w !== waiter);
      return;
    }
    const grant = waiter.grant;
    waiter.grant = undefined;
    if (grant) waiter.io.background(this.giveBack(grant, grant.units, waiter.io));
  }

  /**
   * Watches for idleness from a request's background work: after `idleMs` without a hand-out the
   * unused units go back. A hand-out re-arms the watch when it is old, so one always runs from a
   * recent request, within the runtime's limit for background work.
   */
  #armIdleWatch(now: number, io: LeaseIo): void {
    if (this.#idleWatch && now - this.#idleWatch.armedAt < IDLE_WATCH_REARM_MS) return;
    const watch = { armedAt: now };
    this.#idleWatch = watch;
    io.background(this.#watchIdle(watch, io));
  }

  async #watchIdle(watch: { readonly armedAt: number }, io: LeaseIo): Promise<void> {
    let wait = this.#policy.idleMs;
    for (;;) {
      await this.#clock.sleep(wait);
      if (this.#idleWatch !== watch) return;
      const now = this.#clock.now();
      const idleFor = now - this.#lastUse;
      if (idleFor >= this.#policy.idleMs || now - watch.armedAt >= 2 * IDLE_WATCH_REARM_MS) {
        this.#idleWatch = undefined;
        this.#roll(now);
        if (this.#available > 0 && this.#queue.length === 0) {
          this.#returning += this.#available;
          this.#available = 0;
          this.#run(io);
        }
        return;
      }
      wait = this.#policy.idleMs - idleFor;
    }
  }
}
