/**
 * The response cache stage (SPEC §6): L1 (the Workers Cache API of this location), then L2 (the
 * store), then an identical miss already in flight in this isolate (coalescing). A hit answers here
 * and counts as a request but not as tokens. A miss calls `next()` (the upstream call) leading the
 * coalesced followers, and once the answer settles stores it in both tiers and hands it to them.
 *
 * The L2 read is issued synchronously, before the first `await`, so it joins the quota stage's
 * limiter commands in one pipelined store round trip. A tenant already blocked in the isolate
 * makes no store call at all.
 */
import type { MiddlewareHandler } from 'hono';
import { EdgeMetric } from '../../shared/metrics-catalog';
import type { AppEnv } from '../env';
import { backgroundFor } from '../services/background';
import { LeaderFailedError } from '../services/cache/coalesce';
import { type CacheEntry, replayEvents, resultFromEntry } from '../services/cache/entry';
import { l1Get, l1Put, l2Get, storeEntry } from '../services/cache/tiers';
import type { IsolateServices } from '../services/isolate';
import { jsonAnswer, streamAnswer } from './respond';
import { type AnswerSource, inferenceOf } from './state';

/** Waits for a leader's answer, or undefined when it fails or takes longer than `ms`. */
function followerWait(pending: Promise<CacheEntry>, ms: number): Promise<CacheEntry | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([pending.catch(() => undefined), timeout]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

export function responseCache(deps: Pick<IsolateServices, 'quotaGate' | 'coalescer' | 'metrics' | 'now'>): MiddlewareHandler<AppEnv> {
  return async function responseCache(c, next) {
    const state = inferenceOf(c);
    const { policy, key } = state.cache;
    const store = c.get('store');
    const later = backgroundFor(c);
    const lookup = key !== undefined && policy.lookup;
    const blocked = deps.quotaGate.blockedStates(state.upstream.auth.tenantId) !== undefined;
    const l2 = lookup && !blocked ? l2Get(store, key) : undefined;
    const l1 = lookup && !blocked ? l1Get(key) : undefined;
    await state.admission;

    if (lookup) {
      let entry = await l1;
      let tier: AnswerSource = 'L1';
      if (!entry) {
        entry = await l2;
        tier = 'L2';
        if (entry) later(l1Put(key, entry, policy.ttlS));
      }
      if (!entry) {
        const pending = deps.coalescer.follow(key);
        if (pending) {
          entry = await followerWait(pending, state.upstream.config.backendTimeoutMs);
          tier = 'COALESCED';
        }
      }
      if (entry) {
        deps.metrics.count(EdgeMetric.CacheHits, { Tier: tier });
        state.settle({ kind: 'answered', entry, source: tier });
        const headers = { 'X-Cache': 'HIT', 'X-Cache-Tier': tier };
        return state.req.stream
          ? streamAnswer(c, state, replayEvents(entry), deps.now, headers)
          : jsonAnswer(c, state, resultFromEntry(entry), deps.now, headers);
      }
      deps.metrics.count(EdgeMetric.CacheMisses);
    }

    // A follower whose leader failed makes its own call without leading, so failures never cascade.
    const leader = lookup && !deps.coalescer.follow(key) ? deps.coalescer.lead(key) : undefined;
    state.onSettled((settlement) => {
      if (settlement.kind !== 'answered') {
        leader?.reject(new LeaderFailedError('the leading request did not complete'));
        return;
      }
      const stored = key !== undefined && policy.store ? storeEntry(store, key, settlement.entry, policy.ttlS) : undefined;
      if (stored) later(stored);
      leader?.resolve(settlement.entry, stored);
    });
    c.header('X-Cache', lookup ? 'MISS' : 'BYPASS');
    state.headers['X-Cache'] = lookup ? 'MISS' : 'BYPASS';
    await next();
  };
}
