/**
 * The services one isolate keeps across requests, built once in edge/index.ts and handed to
 * createApp(deps) and the queue handler. Each outlives a request on purpose:
 * - `quotaGate`: the quota leases that admit a warm tenant without a store round trip, the
 *   ephemeral block list that answers blocked tenants without one, and the fallback counters of a
 *   store outage;
 * - `health`: circuit breakers and warming holds, which only mean something across requests;
 * - `coalescer`: identical misses in flight in this isolate share one backend call;
 * - `batcher`: the open embeddings batches that concurrent requests join (one backend call each);
 * - `l0`: the response cache's in-isolate tier, byte-bounded (`CACHE_L0_BYTES`), for hot entries;
 * - `lookups`: the hit ratio of recent L1/L2 lookups, which decides whether a miss's backend call
 *   starts beside its lookup (cache/speculation.ts);
 * - `directory`: the key → tenant cache that bounds revocation to its TTL;
 * - `metrics` + `metricsFlusher`: the aggregate between two flushes and the flush interval gate.
 * Tests build their own (`isolateServices()`), so no state leaks between them.
 */
import type { Config } from '../env';
import { Coalescer } from './cache/coalesce';
import { MemoryTier } from './cache/memory-tier';
import { LookupHitRatio } from './cache/speculation';
import { EmbeddingBatcher } from './embeddings/batcher';
import { QuotaGate } from './limits/gate';
import { IsolateMetrics } from './metrics';
import { MetricsFlusher } from './metrics-flush';
import { BackendHealth } from './routing/health';
import { type Store, storeFor } from './store';
import { TenantDirectory } from './tenant-directory';

export interface IsolateServices {
  /** The store for a config (the memoised Upstash client by default). */
  readonly store: (config: Config) => Store;
  /** Clock in ms. */
  readonly now: () => number;
  readonly directory: TenantDirectory;
  readonly quotaGate: QuotaGate;
  readonly health: BackendHealth;
  readonly coalescer: Coalescer;
  /** Embedding inputs of concurrent requests merged into batched backend calls. */
  readonly batcher: EmbeddingBatcher;
  /** The response cache's L0: hot entries held in this isolate, within the configured byte budget. */
  readonly l0: MemoryTier;
  /** Recent L1/L2 lookups' hit ratio: where they rarely hit, a miss's backend call starts beside its lookup. */
  readonly lookups: LookupHitRatio;
  /** Where the edge records its metrics (flushed off the critical path). */
  readonly metrics: IsolateMetrics;
  /** Flushes `metrics` to CloudWatch from `waitUntil`; none: record only. */
  readonly metricsFlusher?: MetricsFlusher;
}

/** A fresh set of isolate services; `overrides` replace single ones (tests inject clocks and fakes). */
export function isolateServices(overrides: Partial<IsolateServices> = {}): IsolateServices {
  const now = overrides.now ?? Date.now;
  const metrics = overrides.metrics ?? new IsolateMetrics();
  return {
    store: overrides.store ?? storeFor,
    now,
    directory: overrides.directory ?? new TenantDirectory({ now }),
    // The gate compares its windows with the store's own reset times: it keeps the real clock.
    quotaGate: overrides.quotaGate ?? new QuotaGate(),
    health: overrides.health ?? new BackendHealth(),
    coalescer: overrides.coalescer ?? new Coalescer(),
    batcher: overrides.batcher ?? new EmbeddingBatcher(),
    l0: overrides.l0 ?? new MemoryTier(),
    lookups: overrides.lookups ?? new LookupHitRatio(),
    metrics,
    // A test that brings its own metrics records only, unless it brings a flusher too.
    metricsFlusher: 'metricsFlusher' in overrides ? overrides.metricsFlusher : overrides.metrics ? undefined : new MetricsFlusher({ metrics }),
  };
}
