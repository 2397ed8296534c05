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
 *
 * Where this isolate's L1/L2 lookups rarely hit (services/cache/speculation.ts), a miss does not
 * wait for them: the request leads its flight at once, and the forward stage sends the backend call
 * first and the lookup (L2, see readStoreFirst) right after it (`state.speculation`), so the work of
 * issuing and reading it is not spent ahead of the call. Whichever answers first is served; the
 * stage's hit answer (promote, count, settle) is the same either way, and a hit that wins cancels
 * the call.
 */
import type { MiddlewareHandler } from 'hono';
import { EdgeMetric } from '../../shared/metrics-catalog';
import type { AppEnv } from '../env';
import { timePhase, timingClock } from '../middleware/server-timing';
import { backgroundFor } from '../services/background';
import { LeaderFailedError } from '../services/cache/coalesce';
import { type CacheEntry, replayEvents, resultFromEntry } from '../services/cache/entry';
import { type KeepStoreCall, l1Get, l1Put, l2Get, l2Read, remainingTtlS, type StoredEntry, storedBytes, storeEntry } from '../services/cache/tiers';
import type { IsolateServices } from '../services/isolate';
import type { Store } from '../services/store';
import { followFlight } from './follow';
import { jsonAnswer, streamAnswer } from './respond';
import { type AnswerSource, inferenceOf } from './state';

type Deps = Pick<IsolateServices, 'quotaGate' | 'coalescer' | 'metrics' | 'now' | 'l0' | 'lookups'>;

export function responseCache(deps: Deps): MiddlewareHandler<AppEnv> {
  return async function responseCache(c, next) {
    const state = inferenceOf(c);
    const { policy, key } = state.cache;
    const { l0Bytes, speculateBelow } = state.upstream.config.cache;
    const store = c.get('store');
    const later = backgroundFor(c);
    const lookup = key !== undefined && policy.lookup;
    const stopTimer = timePhase(c, 'cache');

    const early = lookup ? deps.l0.get(key, deps.now()) : undefined;
    if (early) stopTimer('L0');
    const blocked = deps.quotaGate.blockedStates(state.upstream.auth.tenantId) !== undefined;
    const storeTimeoutMs = c.get('config').limits.storeTimeoutMs;
    const readsTiers = lookup && !early && !blocked;
    const recorded = (read: Promise<TierRead>) => {
      void read.then((outcome) => deps.lookups.record(outcome.found !== undefined));
      return read;
    };
    // Where this isolate's lookups rarely hit, the backend call goes first and the lookup after it (speculation.ts).
    const speculate = readsTiers && deps.lookups.speculate(speculateBelow);
    const tiers = readsTiers && !speculate ? recorded(readTiers(store, key, deps.now(), storeTimeoutMs, later)) : undefined;
    await state.admission;
    // Looked at again once admitted: an identical request may have led, answered and left its flight
    // while this one waited for its limits (its tier read missed before that answer was stored), and
    // only L0 has the answer then; without this look the request would call the backend a second time.
    const hot = early ?? (lookup ? deps.l0.get(key, deps.now()) : undefined);
    if (hot) stopTimer('L0');

    /** Answers from a tier: promoted to the faster tiers, counted, settled. */
    const answerHit = (found: Found): Response | Promise<Response> => {
      const { entry, json } = found;
      if (json !== undefined) deps.l0.set(key!, entry, storedBytes(json), l0Bytes, deps.now());
      if (found.tier === 'L2' && json !== undefined) later(l1Put(key!, json, remainingTtlS(entry, deps.now(), policy.ttlS)));
      deps.metrics.count(EdgeMetric.CacheHits, { Tier: found.tier });
      state.settle({ kind: 'answered', entry, source: found.tier });
      const headers = { 'X-Cache': 'HIT', 'X-Cache-Tier': found.tier };
      return state.req.stream
        ? streamAnswer(c, state, replayEvents(entry), deps.now, headers)
        : jsonAnswer(c, state, resultFromEntry(entry), deps.now, headers);
    };
    const missed = (endedAt?: number) => {
      const outcome = lookup ? 'MISS' : 'BYPASS';
      stopTimer(outcome, endedAt);
      if (lookup) deps.metrics.count(EdgeMetric.CacheMisses);
      c.header('X-Cache', outcome);
      state.headers['X-Cache'] = outcome;
    };

    let followed = false;
    let read: TierRead | undefined;
    if (lookup) {
      if (hot) return answerHit({ tier: 'L0', entry: hot });
      read = await tiers;
      if (read?.found) {
        stopTimer(read.found.tier, read.endedAt);
        return answerHit(read.found);
      }
      const flight = deps.coalescer.follow(key);
      if (flight) {
        followed = true;
        // A streaming follower's own call (its leader failed mid-stream) is stored like any answer.
        state.onSettled((settlement) => {
          if (settlement.kind === 'answered' && settlement.source === 'backend' && policy.store) {
            const stored = storeEntry({ store, l0: deps.l0, l0Bytes, now: deps.now() }, key, settlement.entry, policy.ttlS);
            if (stored?.send) later(stored.send);
          }
        });
        const answer = await followFlight(c, state, flight, deps.now);
        if (answer) {
          stopTimer('COALESCED');
          deps.metrics.count(EdgeMetric.CacheHits, { Tier: 'COALESCED' });
          return answer;
        }
      }
    }
    if (speculate && !followed) {
      const controller = new AbortController();
      state.speculation = {
        signal: controller.signal,
        lookup: () =>
          recorded(readStoreFirst(store, key, deps.now(), storeTimeoutMs, later)).then((outcome) => {
            const found = outcome.found;
            if (!found) return undefined;
            return () => {
              stopTimer(found.tier, outcome.endedAt);
              controller.abort();
              return answerHit(found);
            };
          }),
        missed: () => missed(),
      };
    } else {
      // A follower sent on its own way has waited for its leader: that wait belongs to the lookup.
      missed(followed ? undefined : read?.endedAt);
    }

    // A follower whose leader failed makes its own call without leading, so failures never cascade.
    if (!followed) {
      const leader = lookup && !deps.coalescer.follow(key) ? deps.coalescer.lead(key) : undefined;
      if (leader && state.req.stream) state.onToken((token) => leader.publish(token));
      state.onSettled((settlement) => {
        if (settlement.kind !== 'answered') {
          leader?.reject(new LeaderFailedError('the leading request did not complete'));
          return;
        }
        // A hit that won the race with the backend call is in every tier already (answerHit promoted it).
        const fresh = settlement.source === 'backend';
        const stored =
          fresh && key !== undefined && policy.store
            ? storeEntry({ store, l0: deps.l0, l0Bytes, now: deps.now() }, key, settlement.entry, policy.ttlS)
            : undefined;
        if (stored?.send) later(stored.send);
        // The flight stays visible until the entry is in L2, also when another request's batch writes it.
        leader?.resolve(settlement.entry, stored?.landed);
      });
    }
    await next();
  };
}

/** An entry found in a tier; one read from L1 or L2 comes with its stored JSON, to promote it to the faster tiers. */
interface Found {
  readonly tier: Exclude<AnswerSource, 'backend' | 'COALESCED'>;
  readonly entry: CacheEntry;
  readonly json?: string;
}

/** What the L1 and L2 reads found, and when the lookup ended (a {@link timingClock} reading). */
interface TierRead {
  readonly found?: Found;
  readonly endedAt: number;
}

/**
 * Reads L1 and L2 at once (the L2 read is issued before the first `await`): L1 is consulted first,
 * so an L1 hit ends the lookup without waiting for L2; a miss ends when both have answered.
 */
async function readTiers(store: Store, key: string, now: number, timeoutMs: number, keep: KeepStoreCall): Promise<TierRead> {
  const l2 = l2Get(store, key, now, timeoutMs, keep);
  const fromL1 = await l1Get(key, now);
  if (fromL1) return tierRead('L1', fromL1);
  return tierRead('L2', await l2);
}

/** A lookup's outcome, ending now: what `tier` held, if anything. */
const tierRead = (tier: Found['tier'], stored: StoredEntry | undefined): TierRead => ({
  ...(stored ? { found: { tier, ...stored } } : {}),
  endedAt: timingClock(),
});

/**
 * A speculating request's lookup: L2 alone, and L1 only when the store failed. The backend call is
 * already on its way and any hit cancels it, so a hit's tier makes no difference to the answer, and
 * L1 holds only what was promoted from L2 with L2's expiry: reading it beside L2 would cost a
 * Cache API call per miss (two isolate hops and a SQLite read under Miniflare) for nothing.
 */
function readStoreFirst(store: Store, key: string, now: number, timeoutMs: number, keep: KeepStoreCall): Promise<TierRead> {
  return l2Read(store, key, now, timeoutMs, keep).then(
    (fromL2) => tierRead('L2', fromL2),
    async () => tierRead('L1', await l1Get(key, now)),
  );
}
