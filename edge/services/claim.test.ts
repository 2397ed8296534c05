/**
 * The claim primitive inside workerd against the real store (Redis behind the bridge): one round
 * trip to claim a free key, replay of the completed value, 409 for another payload, both in-flight
 * policies (answer at once; wait for the first holder), exactly one holder among concurrent
 * claimers, tokens that keep a late holder from touching another's claim, in-progress records that
 * expire, and 503 with Retry-After within the store timeout when the store fails (outage bridge).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import * as z from 'zod';
import { ApiError } from '../errors';
import { bridgeQuiet, bridgeStats } from '../testing/gateway-client';
import { store } from '../testing/seed';
import { clearStoreFaults, setStoreFaults, STORE_OUTAGES } from '../testing/store-faults';
import { type Claim, Claims, type ClaimPolicy, type ClaimRequest } from './claim';
import { storeFor } from './store';

const Answer = z.object({ status: z.number(), body: z.string() });
type Answer = z.infer<typeof Answer>;

const STORE_TIMEOUT_MS = 1_000;

const policy = (overrides: Partial<ClaimPolicy<Answer>> = {}) =>
  new Claims<Answer>({ value: Answer, completedTtlS: 600, inProgressTtlS: 30, waitMs: 0, now: () => Date.now(), ...overrides });

/** A claim request on a fresh key of the healthy store; background work is collected for the test to await. */
function request(overrides: Partial<ClaimRequest> = {}) {
  const background: Promise<unknown>[] = [];
  const req: ClaimRequest = {
    store,
    key: `test:claim:${crypto.randomUUID()}`,
    fingerprint: 'fp-1',
    label: 'this test key',
    details: { test_key: 'k' },
    storeTimeoutMs: STORE_TIMEOUT_MS,
    background: (work) => background.push(work.catch(() => {})),
    ...overrides,
  };
  return { req, settled: () => Promise.all(background) };
}

const holderOf = (claim: Claim<Answer>) => {
  if (claim.kind !== 'claimed') throw new Error(`expected a claim, got ${claim.kind}`);
  return claim.holder;
};

/** The ApiError a promise rejects with. */
async function apiErrorOf(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(err)}`);
  return err;
}

afterEach(async () => {
  await clearStoreFaults();
});

describe('Claims', () => {
  it('claims a free key with one store command, then replays the completed value to the next claimer', async () => {
    const claims = policy();
    const { req } = request();
    await bridgeQuiet();
    const before = await bridgeStats();
    const holder = holderOf(await claims.claim(req));
    const after = await bridgeStats();
    expect(after.redisCommands - before.redisCommands).toBe(1);
    expect((after.commandsByName.set ?? 0) - (before.commandsByName.set ?? 0)).toBe(1);
    expect(await store.get(req.key)).toMatchObject({ status: 'in_progress', fingerprint: 'fp-1' });

    expect(await holder.complete({ status: 202, body: 'first' })).toBe(true);
    expect(await claims.claim(req)).toEqual({ kind: 'replay', value: { status: 202, body: 'first' } });
    expect(await store.get(req.key)).toMatchObject({ status: 'completed', fingerprint: 'fp-1', value: { status: 202, body: 'first' } });
    const ttl = await store.eval('return redis.call("TTL", KEYS[1])', [req.key], []);
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
  });

  it('answers 409 CONFLICT for another fingerprint, in progress and completed, naming the key', async () => {
    const claims = policy({ waitMs: 2_000 });
    const { req } = request();
    const holder = holderOf(await claims.claim(req));
    const started = Date.now();
    const inProgress = await apiErrorOf(claims.claim({ ...req, fingerprint: 'fp-2' }));
    // A different payload is refused at once, not after the 2 s wait (slack for a loaded machine).
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(inProgress.status).toBe(409);
    expect(inProgress.code).toBe('CONFLICT');
    expect(inProgress.message).toBe('this test key was already used with a different request body');
    expect(inProgress.details).toEqual({ test_key: 'k' });
    await holder.complete({ status: 200, body: 'x' });
    const completed = await apiErrorOf(claims.claim({ ...req, fingerprint: 'fp-2' }));
    expect(completed.status).toBe(409);
  });

  it('with waitMs 0, answers a second claimer at once with 409 and Retry-After while the first is in progress', async () => {
    const claims = policy({ waitMs: 0 });
    const { req } = request();
    holderOf(await claims.claim(req));
    const started = Date.now();
    const err = await apiErrorOf(claims.claim(req));
    const ms = Date.now() - started;
    console.warn(`claim in flight, waitMs 0: ${err.status} after ${ms} ms`);
    expect(err.status).toBe(409);
    expect(err.headers).toEqual({ 'Retry-After': '1' });
    expect(err.message).toMatch(/still in progress/);
    expect(err.details).toEqual({ test_key: 'k', retry_after: 1 });
    expect(ms).toBeLessThan(500);
  });

  it('with waitMs 3000, a second claimer waits for the first and gets its answer', async () => {
    const claims = policy({ waitMs: 3_000 });
    const { req } = request();
    const holder = holderOf(await claims.claim(req));
    const started = Date.now();
    const waiting = claims.claim(req);
    setTimeout(() => void holder.complete({ status: 202, body: 'the first answer' }), 500);
    const claim = await waiting;
    const ms = Date.now() - started;
    console.warn(`claim in flight, waitMs 3000: ${claim.kind} after ${ms} ms (first completed at 500 ms)`);
    expect(claim).toEqual({ kind: 'replay', value: { status: 202, body: 'the first answer' } });
    expect(ms).toBeGreaterThanOrEqual(450);
    // Well before the 3 s wait ends: the waiter saw the answer when it landed (slack for a loaded machine).
    expect(ms).toBeLessThan(2_500);
  });

  it('with waitMs 3000, a second claimer takes the key when the first releases it', async () => {
    const claims = policy({ waitMs: 3_000 });
    const { req } = request();
    const first = holderOf(await claims.claim(req));
    const waiting = claims.claim(req);
    setTimeout(() => void first.release(), 300);
    const second = holderOf(await waiting);
    expect(await store.get(req.key)).toMatchObject({ status: 'in_progress' });
    expect(await second.complete({ status: 202, body: 'second' })).toBe(true);
    expect(await claims.claim(req)).toEqual({ kind: 'replay', value: { status: 202, body: 'second' } });
  });

  it('gives up waiting at the injected clock’s deadline with 409 and Retry-After', async () => {
    let now = 1_000_000;
    // Each look at the clock moves it 1 s: a 3 s wait ends after a few polls, not after 3 real seconds.
    const claims = policy({ waitMs: 3_000, pollMs: 20, now: () => (now += 1_000) });
    const { req } = request();
    holderOf(await claims.claim(req));
    const started = Date.now();
    const err = await apiErrorOf(claims.claim(req));
    expect(err.status).toBe(409);
    expect(err.headers['Retry-After']).toBe('1');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('gives exactly one of 10 concurrent claimers the key; the others get its answer', async () => {
    const claims = policy({ waitMs: 3_000 });
    const { req } = request();
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const claim = await claims.claim(req);
        if (claim.kind === 'claimed') {
          await new Promise((r) => setTimeout(r, 200));
          await claim.holder.complete({ status: 202, body: 'only once' });
        }
        return claim.kind;
      }),
    );
    console.warn(
      `10 concurrent claimers: ${outcomes.filter((k) => k === 'claimed').length} claimed, ${outcomes.filter((k) => k === 'replay').length} replayed`,
    );
    expect(outcomes.filter((k) => k === 'claimed')).toHaveLength(1);
    expect(outcomes.filter((k) => k === 'replay')).toHaveLength(9);
  });

  it('frees the key of a holder that never finishes after the in-progress TTL', async () => {
    const claims = policy({ inProgressTtlS: 1 });
    const { req } = request();
    holderOf(await claims.claim(req));
    expect((await apiErrorOf(claims.claim(req))).status).toBe(409);
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await claims.claim(req)).kind).toBe('claimed');
  });

  it('keeps a late holder from releasing or overwriting the claim of the one who took over', async () => {
    const claims = policy({ inProgressTtlS: 1 });
    const { req } = request();
    const late = holderOf(await claims.claim(req));
    await new Promise((r) => setTimeout(r, 1_200));
    const current = holderOf(await claims.claim(req));
    await late.release();
    expect(await store.get(req.key)).toMatchObject({ status: 'in_progress' });
    expect(await late.complete({ status: 500, body: 'stale' })).toBe(false);
    expect(await store.get(req.key)).toMatchObject({ status: 'in_progress' });
    expect(await current.complete({ status: 202, body: 'current' })).toBe(true);
    expect(await claims.claim(req)).toEqual({ kind: 'replay', value: { status: 202, body: 'current' } });
  });

  it('refuses a key holding an unreadable record with 409', async () => {
    const claims = policy();
    const { req } = request();
    await store.set(req.key, { something: 'else' });
    const err = await apiErrorOf(claims.claim(req));
    expect(err.status).toBe(409);
    expect(err.message).toMatch(/unreadable record/);
  });

  it('refuses a policy with a bad lifetime or wait', () => {
    expect(() => policy({ completedTtlS: 0 })).toThrow(/completedTtlS/);
    expect(() => policy({ inProgressTtlS: 1.5 })).toThrow(/inProgressTtlS/);
    expect(() => policy({ waitMs: -1 })).toThrow(/waitMs/);
  });
});

describe.each(STORE_OUTAGES)('Claims with the store $name', ({ name, faults }) => {
  const outageStore = () => storeFor({ store: { url: inject('outageBridgeUrl'), token: inject('outageBridgeToken') } });

  it('answers 503 UPSTREAM_ERROR with Retry-After within the store timeout, and claims normally once the store is back', async () => {
    const claims = policy({ waitMs: 3_000 });
    const { req, settled } = request({ store: outageStore() });
    await setStoreFaults(faults);
    const started = Date.now();
    const err = await apiErrorOf(claims.claim(req));
    const ms = Date.now() - started;
    console.warn(`claim with the store ${name}: ${err.status} ${err.code} Retry-After ${err.headers['Retry-After']} after ${ms} ms`);
    expect(err.status).toBe(503);
    expect(err.code).toBe('UPSTREAM_ERROR');
    expect(err.headers['Retry-After']).toBe('5');
    expect(ms).toBeLessThan(STORE_TIMEOUT_MS + 500);
    await clearStoreFaults();
    // A claim that may have landed late (the stall) is given back in the background.
    await settled();
    expect(await store.get(req.key)).toBeNull();
    const holder = holderOf(await claims.claim(req));
    expect(await holder.complete({ status: 202, body: 'after the outage' })).toBe(true);
  }, 20_000);

  it('rejects complete and release with 503 while the store is down', async () => {
    const claims = policy();
    const { req } = request({ store: outageStore() });
    const holder = holderOf(await claims.claim(req));
    await setStoreFaults(faults);
    for (const work of [() => holder.complete({ status: 200, body: 'x' }), () => holder.release()]) {
      const started = Date.now();
      const err = await apiErrorOf(work());
      expect(err.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(STORE_TIMEOUT_MS + 500);
    }
  }, 20_000);
});
