/**
 * The limited, cached part of every inference route, after `planCall`:
 *
 *   idempotency claim → quota gate (+ L2 lookup in the same pipelined round trip) → L1/L2 hit?
 *   → coalesce identical misses → `complete` / `openStream` → cache store → token settle
 *
 * Limit headers are set before the first byte, so streams carry them. Store round trips on the
 * critical path of a miss: one (the limiters' EVALSHAs and the L2 GETEX share one pipeline; auth is
 * served from the isolate's key cache when warm); plus one `SET NX GET` when the request carries an
 * Idempotency-Key. Settling, refunds and cache writes run in `waitUntil`.
 *
 * Tokens: a cache hit (or a coalesced follower) counts as a request but not as tokens; its
 * reservation is refunded. A call that fails before streaming refunds its reservation; a stream cut
 * or abandoned midway keeps it (the GPU time was spent, and its real usage is unknown).
 */
import type { Context } from 'hono';
import { EdgeMetric } from '../../shared/metrics-catalog';
import { sha256Hex } from '../../shared/crypto/hash';
import type { Usage } from '../../shared/contracts/infer';
import type { AppEnv } from '../env';
import { claimIdempotency } from '../middleware/idempotency';
import { runInBackground } from '../services/background';
import { Coalescer, LeaderFailedError } from '../services/cache/coalesce';
import { entryFromResult, recordStream, replayEvents, resultFromEntry, type CacheEntry } from '../services/cache/entry';
import { cacheKey, cachePolicy, canonicalJson } from '../services/cache/key';
import { l1Get, l1Put, l2Get, storeEntry } from '../services/cache/tiers';
import { complete, openStream, servedHeaders, type InferenceContext, type PlannedCall } from '../services/inference';
import { isolateQuotaGate, tokensToReserve } from '../services/limits/gate';
import { sseResponse } from '../services/sse-response';
import { streamEncoder, toResponse, type AnswerMeta, type NormalizedRequest } from '../services/translate';
import type { RouteDeps } from './common';

// Isolate-wide on purpose: identical misses in flight in this isolate share one backend call.
export const isolateCoalescer = new Coalescer();

export interface PipelineInput {
  readonly ctx: InferenceContext;
  readonly call: PlannedCall;
  readonly meta: Omit<AnswerMeta, 'latencyMs'>;
  readonly started: number;
  readonly upstream: AbortController;
}

const total = (u: Usage) => u.prompt_tokens + u.completion_tokens;

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

export async function runInferencePipeline(c: Context<AppEnv>, req: NormalizedRequest, deps: RouteDeps, input: PipelineInput): Promise<Response> {
  const { ctx, call, meta, started, upstream } = input;
  const { config, auth } = ctx;
  const { now, metrics } = deps;
  const store = deps.store(config);
  const later = (work: Promise<unknown>) => runInBackground(c, work);

  const replay = await claimIdempotency(c, store, auth.tenantId, () => sha256Hex(`${c.req.path}\n${canonicalJson(req)}`));
  if (replay) return replay;

  const policy = cachePolicy(c.req.header('cache-control'), call.payload.params, config.cache);
  const key = policy.eligible ? await cacheKey(auth.tenantId, call.payload, config.cache) : undefined;
  const lookup = key !== undefined && policy.lookup;
  const blocked = isolateQuotaGate.blockedStates(auth.tenantId) !== undefined;
  const admitting = isolateQuotaGate.admit({
    store,
    plan: auth.plan,
    tenantId: auth.tenantId,
    tokens: tokensToReserve(call.payload),
    policy: config.limits,
    background: later,
    metrics,
  });
  // Issued in the same tick as the limiters' EVALSHAs: the L2 read joins their pipeline. A tenant
  // blocked in the isolate makes no store call at all.
  const l2 = lookup && !blocked ? l2Get(store, key, config.limits.storeTimeoutMs) : undefined;
  const l1 = lookup && !blocked ? l1Get(key) : undefined;
  const admission = await admitting;
  for (const [name, value] of Object.entries(admission.headers)) c.header(name, value);

  const answer = (entry: CacheEntry, extra: Record<string, string>): Response => {
    const headers = { ...admission.headers, ...extra };
    if (!req.stream) return c.json(toResponse(req.flavour, { ...meta, latencyMs: now() - started }, resultFromEntry(entry)), 200, headers);
    return sseResponse(replayEvents(entry), { encoder: streamEncoder(req.flavour, meta, req.includeUsage), elapsedMs: () => now() - started, headers });
  };

  if (lookup) {
    let entry = await l1;
    let tier = 'L1';
    if (!entry) {
      entry = await l2;
      tier = 'L2';
      if (entry) later(l1Put(key, entry, policy.ttlS));
    }
    if (!entry) {
      const pending = isolateCoalescer.follow(key);
      if (pending) {
        entry = await followerWait(pending, config.backendTimeoutMs);
        tier = 'COALESCED';
      }
    }
    if (entry) {
      metrics.count(EdgeMetric.CacheHits, { Tier: tier });
      later(admission.settle(0));
      return answer(entry, { 'X-Cache': 'HIT', 'X-Cache-Tier': tier });
    }
    metrics.count(EdgeMetric.CacheMisses);
  }

  // A follower whose leader failed makes its own call without leading, so failures never cascade.
  const leader = lookup && !isolateCoalescer.follow(key) ? isolateCoalescer.lead(key) : undefined;
  const cacheHeaders = { 'X-Cache': lookup ? 'MISS' : 'BYPASS' };
  const remember = (entry: CacheEntry) => {
    later(admission.settle(total(entry.usage)));
    const stored = key !== undefined && policy.store ? storeEntry(store, key, entry, policy.ttlS) : undefined;
    if (stored) later(stored);
    leader?.resolve(entry, stored);
  };
  const failed = (err: unknown): never => {
    leader?.reject(new LeaderFailedError('the leading request failed'));
    later(admission.settle(0));
    throw err;
  };

  if (!req.stream) {
    const { result, served } = await complete(ctx, call).catch(failed);
    remember(entryFromResult(result));
    return c.json(toResponse(req.flavour, { ...meta, latencyMs: now() - started }, result), 200, {
      ...servedHeaders(served),
      ...admission.headers,
      ...cacheHeaders,
    });
  }
  const { events, served } = await openStream(ctx, call).catch(failed);
  const recorded = recordStream(events, remember, () => leader?.reject(new LeaderFailedError('the leading stream did not complete')));
  return sseResponse(recorded, {
    encoder: streamEncoder(req.flavour, meta, req.includeUsage),
    elapsedMs: () => now() - started,
    headers: { ...servedHeaders(served), ...admission.headers, ...cacheHeaders },
    abortUpstream: () => upstream.abort(),
  });
}
