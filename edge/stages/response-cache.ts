/**
 * The response cache stage (SPEC §6): L0 (this isolate's memory), then L1 (the Workers Cache API of
 * this location), then L2 (the store), then an identical miss already in flight in this isolate
 * (coalescing, follow.ts). A hit answers here and counts as a request but not as tokens; a hit from
 * L1 or L2 is promoted to the faster tiers. A miss calls `next()` (the upstream call) leading the
 * coalesced followers: a streaming leader hands them each token as it passes, and once the answer
 * settles it is stored in every tier and handed to them whole.
 *
 * L0 is read first and synchronously: a hot entry costs no I/O, so no L1 or L2 read is issued for
 * it. Otherwise the L2 read is issued before the first `await`, so it joins the quota stage's
 * limiter commands in one pipelined store round trip. A tenant already blocked in the isolate makes
 * no store call at all. The `cache` timing is the lookup itself (the tier reads, or the wait for a
 * leader), not the admission it runs beside.
 */
import type { MiddlewareHandler } from 'hono';
import { EdgeMetric } from '../../shared/metrics-catalog';
import type { AppEnv } from '../env';
import { timePhase, timingClock } from '../middleware/server-timing';
import { backgroundFor } from '../services/background';
import { LeaderFailedError } from '../services/cache/coalesce';
import { type CacheEntry, replayEvents, resultFromEntry } from '../services/cache/entry';
import { l1Get, l1Put, l2Get, remainingTtlS, type StoredEntry, storedBytes, storeEntry } from '../services/cache/tiers';
import type { IsolateServices } from '../services/isolate';
import { followFlight } from './follow';
import { jsonAnswer, streamAnswer } from './respond';
import { type AnswerSource, inferenceOf } from './state';

type Deps = Pick<IsolateServices, 'quotaGate' | 'coalescer' | 'metrics' | 'now' | 'l0'>;

export function responseCache(deps: Deps): MiddlewareHandler<AppEnv> {
  return async function responseCache(c, next) {
    const state = inferenceOf(c);
    const { policy, key } = state.cache;
    const { l0Bytes } = state.upstream.config.cache;
    const store = c.get('store');
    const later = backgroundFor(c);
    const lookup = key !== undefined && policy.lookup;
    const stopTimer = timePhase(c, 'cache');

    const hot = lookup ? deps.l0.get(key, deps.now()) : undefined;
    if (hot) stopTimer('L0');
    const blocked = deps.quotaGate.blockedStates(state.upstream.auth.tenantId) !== undefined;
    const read = lookup && !hot && !blocked;
    const l2 = read ? l2Get(store, key, deps.now(), c.get('config').limits.storeTimeoutMs) : undefined;
    const l1 = read ? l1Get(key, deps.now()) : undefined;
    // When each read answered, for the timing: L1 is consulted first, so an L1 hit ends the lookup.
    const l1Done = l1?.then(timingClock);
    const readsDone = l1 && l2 ? Promise.all([l1, l2]).then(timingClock) : undefined;
    await state.admission;

    let followed = false;
    if (lookup) {
      let found: { entry: CacheEntry; tier: AnswerSource } | undefined = hot ? { entry: hot, tier: 'L0' } : undefined;
      const fromL1 = found ? undefined : await l1;
      if (fromL1) {
        stopTimer('L1', await l1Done);
        found = { entry: promote(deps, key, fromL1, l0Bytes), tier: 'L1' };
      }
      const fromL2 = found ? undefined : await l2;
      if (fromL2) {
        stopTimer('L2', await readsDone);
        later(l1Put(key, fromL2.json, remainingTtlS(fromL2.entry, deps.now(), policy.ttlS)));
        found = { entry: promote(deps, key, fromL2, l0Bytes), tier: 'L2' };
      }
      if (found) {
        deps.metrics.count(EdgeMetric.CacheHits, { Tier: found.tier });
        state.settle({ kind: 'answered', entry: found.entry, source: found.tier });
        const headers = { 'X-Cache': 'HIT', 'X-Cache-Tier': found.tier };
        return state.req.stream
          ? streamAnswer(c, state, replayEvents(found.entry), deps.now, headers)
          : jsonAnswer(c, state, resultFromEntry(found.entry), deps.now, headers);
      }
      const flight = deps.coalescer.follow(key);
      if (flight) {
        followed = true;
        // A streaming follower's own call (its leader failed mid-stream) is stored like any answer.
        state.onSettled((settlement) => {
          if (settlement.kind === 'answered' && settlement.source === 'backend' && policy.store) {
            const stored = storeEntry({ store, l0: deps.l0, l0Bytes, now: deps.now() }, key, settlement.entry, policy.ttlS);
            if (stored) later(stored);
          }
        });
        const answer = await followFlight(c, state, flight, deps.now);
        if (answer) {
          stopTimer('COALESCED');
          deps.metrics.count(EdgeMetric.CacheHits, { Tier: 'COALESCED' });
          return answer;
        }
      }
      deps.metrics.count(EdgeMetric.CacheMisses);
    }
    // A follower sent on its own way has waited for its leader: that wait belongs to the lookup.
    stopTimer(lookup ? 'MISS' : 'BYPASS', followed ? undefined : await readsDone);

    // A follower whose leader failed makes its own call without leading, so failures never cascade.
    if (!followed) {
      const leader = lookup && !deps.coalescer.follow(key) ? deps.coalescer.lead(key) : undefined;
      if (leader && state.req.stream) state.onToken((token) => leader.publish(token));
      state.onSettled((settlement) => {
        if (settlement.kind !== 'answered') {
          leader?.reject(new LeaderFailedError('the leading request did not complete'));
          return;
        }
        const stored =
          key !== undefined && policy.store ? storeEntry({ store, l0: deps.l0, l0Bytes, now: deps.now() }, key, settlement.entry, policy.ttlS) : undefined;
        if (stored) later(stored);
        leader?.resolve(settlement.entry, stored);
      });
    }
    c.header('X-Cache', lookup ? 'MISS' : 'BYPASS');
    state.headers['X-Cache'] = lookup ? 'MISS' : 'BYPASS';
    await next();
  };
}

/** Holds an entry read from L1 or L2 in L0 too (so the next hit costs no I/O); returns the entry. */
function promote(deps: Deps, key: string, found: StoredEntry, l0Bytes: number): CacheEntry {
  deps.l0.set(key, found.entry, storedBytes(found.json), l0Bytes, deps.now());
  return found.entry;
}
