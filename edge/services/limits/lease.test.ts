/**
 * The lease's logic against a fake counter with the fixed window's semantics (INCRBY rate on the
 * bucket the clock is in, admitted when the result ≤ L) and an injected clock: sizes, refusal and
 * refund, window boundaries, idle return, a new limit, token give-back, and the bounds under random
 * interleavings of several locations. The same guarantees against the real store: leases.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type CounterReply, type Grant, isGrant, Lease, type LeaseClock, type LeaseIo, type PendingTake } from './lease';
import { DEFAULT_LEASE_POLICY, type LeasePolicy } from './lease-sizing';
import type { LimitWindow } from './windows';

const minute = (limit: number): LimitWindow => ({ kind: 'requests', name: 'minute', limit, seconds: 60 });
const tokenMinute = (limit: number): LimitWindow => ({ kind: 'tokens', name: 'minute', limit, seconds: 60 });
const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

/** A clock that only moves when told; `sleep` resolves once the clock has passed its end. */
function manualClock(start: number) {
  let now = start;
  let timers: Array<{ at: number; resolve: () => void }> = [];
  const clock: LeaseClock = { now: () => now, sleep: (ms) => new Promise<void>((resolve) => timers.push({ at: now + ms, resolve })) };
  return {
    clock,
    async advance(ms: number): Promise<void> {
      now += ms;
      const due = timers.filter((t) => t.at <= now);
      timers = timers.filter((t) => t.at > now);
      for (const t of due) t.resolve();
      for (let i = 0; i < 5; i++) await flush();
    },
  };
}

/** One tenant window's counters by bucket, changed like the fixed window's Lua script. */
function fakeCounter(clock: LeaseClock, delay?: () => Promise<void>) {
  const buckets = new Map<number, number>();
  const rates: number[] = [];
  let inFlight = 0;
  const bucketOf = (w: LimitWindow, at: number) => Math.floor(at / (w.seconds * 1000));
  const change = async (window: LimitWindow, rate: number): Promise<CounterReply> => {
    inFlight++;
    try {
      // The library fixes the bucket when the call is made, before any network delay.
      const bucket = bucketOf(window, clock.now());
      if (delay) await delay();
      rates.push(rate);
      const count = (buckets.get(bucket) ?? 0) + rate;
      buckets.set(bucket, count);
      if (delay) await delay();
      return { success: count <= window.limit, remaining: Math.max(0, window.limit - count), reset: (bucket + 1) * window.seconds * 1000 };
    } finally {
      inFlight--;
    }
  };
  return {
    rates,
    change,
    /** Resolves once no change is in flight (the refunds sent so far have landed). */
    settled: async () => {
      while (inFlight > 0) await flush();
    },
    count: (window: LimitWindow, at = clock.now()) => buckets.get(bucketOf(window, at)) ?? 0,
    preset: (window: LimitWindow, count: number) => buckets.set(bucketOf(window, clock.now()), count),
  };
}

function ioOf(change: LeaseIo['change']): LeaseIo {
  return { change, timeoutMs: 5_000, background: () => {} };
}

const outcomeOf = async (take: Grant | PendingTake) => (isGrant(take) ? { granted: true as const, grant: take } : take.outcome);

// Inside a minute, far from its end.
const START = 1_800_000_000_000 + 5_000;

/** A lease on a minute window of 1,000 that took its first units at START for one request; `reset` is that bucket's end. */
async function leaseAfterFirstTake() {
  const manual = manualClock(START);
  const store = fakeCounter(manual.clock);
  const window = minute(1_000);
  const lease = new Lease(window, DEFAULT_LEASE_POLICY, manual.clock);
  const io = ioOf(store.change);
  const first = await outcomeOf(lease.take(window, 1, io));
  expect(first.granted).toBe(true);
  const reset = first.granted ? first.grant.reset : 0;
  return { manual, store, window, lease, io, reset };
}

describe('lease sizes', () => {
  it('takes a few requests’ worth once, then hands out without the store and refills ahead in the background', async () => {
    const { clock } = manualClock(START);
    const store = fakeCounter(clock);
    const lease = new Lease(minute(1_000), DEFAULT_LEASE_POLICY, clock);
    const io = ioOf(store.change);
    const first = lease.take(minute(1_000), 1, io);
    expect(isGrant(first)).toBe(false);
    expect((await outcomeOf(first)).granted).toBe(true);
    expect(store.rates).toEqual([DEFAULT_LEASE_POLICY.minRequests]);
    const later: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      later.push(isGrant(lease.take(minute(1_000), 1, io)));
      // Requests arrive one after another, not all in one tick: a refill has a moment to land.
      await flush();
    }
    // Every later request found units on hand: the refills ran ahead of them.
    expect(later.every(Boolean)).toBe(true);
    expect(store.rates.length).toBeGreaterThan(1);
    expect(store.rates.every((r) => r > 0)).toBe(true);
    expect(store.count(minute(1_000))).toBeGreaterThanOrEqual(21);
    expect(lease.remaining()).toBe(1_000 - 21);
  });

  it('near the limit asks the store for exactly each request’s unit: the per-request path', async () => {
    const { clock } = manualClock(START);
    const store = fakeCounter(clock);
    const window = minute(5);
    const lease = new Lease(window, DEFAULT_LEASE_POLICY, clock);
    const io = ioOf(store.change);
    const outcomes = [];
    for (let i = 0; i < 6; i++) outcomes.push(await outcomeOf(lease.take(window, 1, io)));
    expect(outcomes.map((o) => o.granted)).toEqual([true, true, true, true, true, false]);
    expect(store.rates).toEqual([1, 1, 1, 1, 1, 1, -1]);
    expect(store.count(window)).toBe(5);
  });
});

describe('refusal', () => {
  it('refunds a refused take in the same bucket at once and retries smaller, down to the request’s own unit', async () => {
    const { clock } = manualClock(START);
    const store = fakeCounter(clock);
    const window = minute(100);
    store.preset(window, 97);
    const lease = new Lease(window, DEFAULT_LEASE_POLICY, clock);
    const io = ioOf(store.change);
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => outcomeOf(lease.take(window, 1, io))));
    // 8 (a cold lease's size) is refused and refunded; the refund's reply says 3 remain; 3 are
    // taken; a take of 1 is refused and refunded, and the 7 still waiting are refused.
    expect(store.rates).toEqual([8, -8, 3, 1, -1]);
    expect(outcomes.filter((o) => o.granted).length).toBe(3);
    expect(store.count(window)).toBe(100);
    const refused = outcomes.find((o) => !o.granted);
    expect(refused && !refused.granted && refused.reset).toBe((Math.floor(START / 60_000) + 1) * 60_000);
  });
});

describe('window boundary', () => {
  it('never hands out units across the reset, and never refunds after it', async () => {
    const { manual, store, window, lease, io, reset } = await leaseAfterFirstTake();
    expect(store.count(window)).toBe(8);
    // Past the reset the 7 units on hand are worth nothing: the next request asks the new bucket.
    await manual.advance(reset - START);
    const next = lease.take(window, 1, io);
    expect(isGrant(next)).toBe(false);
    const outcome = await outcomeOf(next);
    expect(outcome.granted && outcome.grant.reset).toBe(reset + 60_000);
    await manual.advance(DEFAULT_LEASE_POLICY.idleMs * 3);
    // The old bucket kept its 8; no refund was sent to it (or, late, to the new one for it).
    expect(store.count(window, reset - 1)).toBe(8);
    expect(store.rates.filter((r) => r < 0)).toEqual([-7]);
    expect(store.count(window)).toBe(1);
  });

  it('takes the next bucket’s lease as it begins when requests come near the reset: the first request after it needs no store', async () => {
    const { manual, store, window, lease, io, reset } = await leaseAfterFirstTake();
    // A request in the last idle period of the bucket (its lease went back meanwhile: it takes anew).
    await manual.advance(reset - START - DEFAULT_LEASE_POLICY.idleMs);
    expect((await outcomeOf(lease.take(window, 1, io))).granted).toBe(true);
    await manual.advance(0);
    const taken = store.rates.length;
    await manual.advance(DEFAULT_LEASE_POLICY.idleMs - 1);
    // Nothing is taken from the next bucket before it begins.
    expect(store.rates.length).toBe(taken);
    await manual.advance(1);
    expect(store.rates.length).toBe(taken + 1);
    expect(store.count(window)).toBe(store.rates.at(-1));
    // The first request of the new bucket is served from the units on hand, in that bucket.
    const next = lease.take(window, 1, io);
    expect(isGrant(next)).toBe(true);
    expect(isGrant(next) && next.reset).toBe(reset + 60_000);
    expect(store.rates.length).toBe(taken + 1);
  });

  it('takes nothing from the next bucket without demand near the reset, and gives an unused early take back', async () => {
    const { manual, store, window, lease, io, reset } = await leaseAfterFirstTake();
    // Only early in the bucket: nothing is taken from the next one.
    await manual.advance(reset - START + 1_000);
    expect(store.count(window)).toBe(0);
    expect(store.rates.every((r, i) => i === 0 || r < 0)).toBe(true);
    // A request near the end of this bucket, then none: the next bucket's take goes back once idle.
    const second = await outcomeOf(lease.take(window, 1, io));
    const nextReset = second.granted ? second.grant.reset : 0;
    await manual.advance(nextReset - manual.clock.now() - 500);
    expect((await outcomeOf(lease.take(window, 1, io))).granted).toBe(true);
    await manual.advance(500);
    expect(store.count(window)).toBeGreaterThan(0);
    await manual.advance(DEFAULT_LEASE_POLICY.idleMs * 2);
    expect(store.count(window)).toBe(0);
  });

  it('does not refund a refused take whose answer arrives after the reset', async () => {
    const manual = manualClock(START);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let first = true;
    const store = fakeCounter(manual.clock, () => (first ? gate : Promise.resolve()));
    const window = minute(10);
    store.preset(window, 10);
    const lease = new Lease(window, DEFAULT_LEASE_POLICY, manual.clock);
    const take = lease.take(window, 1, ioOf(store.change));
    await manual.advance(60_000);
    first = false;
    release();
    // The retry goes to the new bucket, where there is room; the old one is left as it was.
    const outcome = await outcomeOf(take);
    expect(outcome.granted).toBe(true);
    expect(store.rates).toEqual([1, 1]);
    expect(store.count(window, START)).toBe(11);
  });
});

describe('idle return and plan change', () => {
  it('gives unused units back after idleMs without a request', async () => {
    const manual = manualClock(START);
    const store = fakeCounter(manual.clock);
    const window = minute(1_000);
    const lease = new Lease(window, DEFAULT_LEASE_POLICY, manual.clock);
    const io = ioOf(store.change);
    await outcomeOf(lease.take(window, 1, io));
    expect(store.count(window)).toBe(8);
    await manual.advance(DEFAULT_LEASE_POLICY.idleMs - 1);
    expect(store.count(window)).toBe(8);
    await manual.advance(1);
    expect(store.rates).toEqual([8, -7]);
    expect(store.count(window)).toBe(1);
    expect(lease.remaining()).toBe(999);
  });

  it('retires the lease when the limit changes: its units go back before the first take under the new limit', async () => {
    const { clock } = manualClock(START);
    const store = fakeCounter(clock);
    const lease = new Lease(minute(1_000), DEFAULT_LEASE_POLICY, clock);
    const io = ioOf(store.change);
    const old = await outcomeOf(lease.take(minute(1_000), 1, io));
    const next = lease.take(minute(3), 1, io);
    expect(isGrant(next)).toBe(false);
    expect((await outcomeOf(next)).granted).toBe(true);
    expect(store.rates).toEqual([8, -7, 1]);
    // A unit of the old plan handed back later goes to the store, not to the new lease.
    if (old.granted) await lease.giveBack(old.grant, 1, io);
    expect(store.rates.at(-1)).toBe(-1);
    expect(store.count(minute(3))).toBe(1);
  });
});

describe('tokens', () => {
  it('takes unused reserved tokens back into the lease and charges extra usage from it', async () => {
    const { clock } = manualClock(START);
    const store = fakeCounter(clock);
    const window = tokenMinute(10_000);
    const lease = new Lease(window, DEFAULT_LEASE_POLICY, clock);
    const io = ioOf(store.change);
    const outcome = await outcomeOf(lease.take(window, 100, io));
    if (!outcome.granted) throw new Error('refused');
    expect(store.rates).toEqual([800]);
    await lease.giveBack(outcome.grant, 60, io);
    expect(lease.remaining()).toBe(10_000 - 40);
    const second = lease.take(window, 100, io);
    expect(isGrant(second)).toBe(true);
    if (isGrant(second)) await lease.charge(second, 30, io);
    expect(lease.remaining()).toBe(10_000 - 40 - 130);
    // All of it happened in the lease: the store saw only the first take.
    expect(store.rates).toEqual([800]);
  });
});

describe('several locations', () => {
  const policy: LeasePolicy = { ...DEFAULT_LEASE_POLICY, idleMs: 60_000 };

  /** K locations, each with `perLocation` parallel requests of `need` units, on one counter whose replies come in random order. */
  async function race(k: number, perLocation: number, window: LimitWindow, need: number) {
    const { clock } = manualClock(START);
    const randomDelay = () => new Promise<void>((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));
    const store = fakeCounter(clock, randomDelay);
    let handedOut = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: k }, async () => {
        const lease = new Lease(window, policy, clock);
        const io = ioOf(store.change);
        const outcomes = await Promise.all(
          Array.from({ length: perLocation }, async (_, i) => {
            await new Promise((resolve) => setTimeout(resolve, i % 3));
            const o = await outcomeOf(lease.take(window, need, io));
            if (o.granted) {
              handedOut += need;
              peak = Math.max(peak, handedOut);
            }
            return o.granted;
          }),
        );
        return outcomes.filter(Boolean).length;
      }),
    );
    // Refunds of the last refused takes land a few ms after their refusal: wait for them, not a fixed
    // 30 ms a loaded machine can outlast (the idle watches wait on the manual clock, so not for those).
    await store.settled();
    return { admitted: results.reduce((a, b) => a + b, 0), peak, count: store.count(window) };
  }

  it('admit at most L and at least L − K + 1 requests from K = 3 locations under random interleavings', async () => {
    const admitted: number[] = [];
    for (let round = 0; round < 20; round++) {
      const r = await race(3, 100, minute(50), 1);
      admitted.push(r.admitted);
      expect(r.peak).toBeLessThanOrEqual(50);
      expect(r.admitted).toBeLessThanOrEqual(50);
      expect(r.admitted).toBeGreaterThanOrEqual(48);
      expect(r.count).toBeLessThanOrEqual(50);
    }
    console.warn(`3 fake locations × 100 requests, L = 50, 20 rounds: admitted ${JSON.stringify(admitted)}`);
  });

  it('admit at most L and at least L − K + 1 requests from K = 8 locations', async () => {
    const admitted: number[] = [];
    for (let round = 0; round < 10; round++) {
      const r = await race(8, 40, minute(50), 1);
      admitted.push(r.admitted);
      expect(r.peak).toBeLessThanOrEqual(50);
      expect(r.admitted).toBeGreaterThanOrEqual(50 - 8 + 1);
    }
    console.warn(`8 fake locations × 40 requests, L = 50, 10 rounds: admitted ${JSON.stringify(admitted)}`);
  });

  it('hand out at most L and at least L − K·u + 1 tokens from K = 3 locations (u = one request’s tokens)', async () => {
    const admitted: number[] = [];
    for (let round = 0; round < 20; round++) {
      const r = await race(3, 100, tokenMinute(200), 4);
      admitted.push(r.admitted);
      expect(r.peak).toBeLessThanOrEqual(200);
      expect(r.admitted * 4).toBeGreaterThanOrEqual(200 - 3 * 4 + 1);
    }
    console.warn(`3 fake locations × 100 requests of 4 tokens, L = 200 tokens, 20 rounds: admitted ${JSON.stringify(admitted)}`);
  });
});

describe('a pump whose request is gone', () => {
  it('is replaced by the next request once it has made no progress for two command deadlines; both waiters are served', async () => {
    const { clock, advance } = manualClock(START);
    const store = fakeCounter(clock);
    const lease = new Lease(minute(100), DEFAULT_LEASE_POLICY, clock);
    // workerd cancels a finished request's pending I/O: its store command never settles, nor does its deadline.
    const dead: LeaseIo = { change: () => new Promise<never>(() => {}), timeoutMs: 1_000_000, background: () => {} };
    const first = lease.take(minute(100), 1, dead);
    expect(isGrant(first)).toBe(false);
    // Within the stall bound, a second request waits for the pump at work.
    await advance(1_000);
    const early = lease.take(minute(100), 1, ioOf(store.change));
    await flush();
    expect(store.rates).toEqual([]);
    if (!isGrant(early)) early.cancel();
    // Past it (two deadlines of the live request's io plus the margin), the next request takes over.
    await advance(2 * 5_000 + 1_000);
    const second = lease.take(minute(100), 1, ioOf(store.change));
    const [a, b] = await Promise.all([outcomeOf(first), outcomeOf(second)]);
    expect(a.granted && b.granted).toBe(true);
    expect(store.rates.length).toBe(1);
    expect(store.count(minute(100))).toBeGreaterThanOrEqual(2);
  });
});

describe('a take that waits', () => {
  /** The fake counter behind a gate: commands whose rate `holds` wait for `release`. */
  function heldCounter(clock: LeaseClock) {
    const store = fakeCounter(clock);
    let holds: (rate: number) => boolean = () => false;
    let waiting: Array<() => void> = [];
    const change: LeaseIo['change'] = async (window, rate) => {
      if (holds(rate)) await new Promise<void>((resolve) => waiting.push(resolve));
      return store.change(window, rate);
    };
    return {
      store,
      io: ioOf(change),
      hold: (which: (rate: number) => boolean) => (holds = which),
      /** Lets the held commands go; `next` says which ones to hold from now on. */
      release: async (next: (rate: number) => boolean = () => false) => {
        holds = next;
        const w = waiting;
        waiting = [];
        for (const r of w) r();
        for (let i = 0; i < 10; i++) await flush();
      },
    };
  }

  it('says whether the store is answering its lease while it waits, and its outcome once decided', async () => {
    const { clock, advance } = manualClock(START);
    const held = heldCounter(clock);
    const window = minute(100);
    held.store.preset(window, 97);
    const lease = new Lease(window, DEFAULT_LEASE_POLICY, clock);
    held.hold(() => true);
    const take = lease.take(window, 1, held.io);
    if (isGrant(take)) throw new Error('a cold lease has no units on hand');
    // No reply yet: nothing says the store is there.
    expect(take.decided()).toBeUndefined();
    expect(take.storeAnswering(1_000)).toBe(false);
    // The cold take (8) lands and is refused; its refund is held: the store is answering the lease.
    await held.release((rate) => rate < 0);
    expect(held.store.rates).toEqual([8]);
    expect(take.decided()).toBeUndefined();
    expect(take.storeAnswering(1_000)).toBe(true);
    // A whole deadline without another reply: it no longer is.
    await advance(1_001);
    expect(take.storeAnswering(1_000)).toBe(false);
    await held.release();
    const outcome = await take.outcome;
    expect(outcome.granted).toBe(true);
    expect(take.decided()).toEqual(outcome);
    expect(take.storeAnswering(1_000)).toBe(false);
    // Refunded, then a take of its own unit: 3 remain, too few to lease ahead.
    expect(held.store.rates).toEqual([8, -8, 1]);
  });

  it('is never served from a refill taken under the old limit that lands after the limit changed', async () => {
    const { clock } = manualClock(START);
    const held = heldCounter(clock);
    const lease = new Lease(minute(100), DEFAULT_LEASE_POLICY, clock);
    const first = await outcomeOf(lease.take(minute(100), 1, held.io));
    expect(first.granted).toBe(true);
    // Hand out what the cold take brought, holding the store: the refill this starts stays in flight.
    held.hold(() => true);
    for (let i = 1; i < DEFAULT_LEASE_POLICY.minRequests; i++) expect(isGrant(lease.take(minute(100), 1, held.io))).toBe(true);
    for (let i = 0; i < 5; i++) await flush();
    // The plan drops to 2 a minute while that refill, taken under 100, is still on its way.
    const after = lease.take(minute(2), 1, held.io);
    if (isGrant(after)) throw new Error('a retired lease has no units on hand');
    await held.release();
    await held.store.settled();
    const outcome = await after.outcome;
    // The refill's units went back; the request was decided under the new limit: 8 used of 2.
    expect(outcome.granted).toBe(false);
    expect(held.store.count(minute(2))).toBe(DEFAULT_LEASE_POLICY.minRequests);
  });

  it('is served at once from units given back, not after the command in flight', async () => {
    const { clock } = manualClock(START);
    const held = heldCounter(clock);
    const window = minute(100);
    const lease = new Lease(window, DEFAULT_LEASE_POLICY, clock);
    const first = await outcomeOf(lease.take(window, 1, held.io));
    if (!first.granted) throw new Error('the first take is granted');
    // The store holds every command from now on; use up what the cold take brought (its refill waits).
    held.hold(() => true);
    const rest = Array.from({ length: DEFAULT_LEASE_POLICY.minRequests - 1 }, () => lease.take(window, 1, held.io));
    expect(rest.every(isGrant)).toBe(true);
    const waiting = lease.take(window, 1, held.io);
    if (isGrant(waiting)) throw new Error('the lease is empty');
    await flush();
    expect(waiting.decided()).toBeUndefined();
    await lease.giveBack(first.grant, 1, held.io);
    // Served from the unit given back while the store still holds the pump's command.
    expect(waiting.decided()?.granted).toBe(true);
    expect(held.store.rates).toEqual([DEFAULT_LEASE_POLICY.minRequests]);
    await held.release();
  });
});
