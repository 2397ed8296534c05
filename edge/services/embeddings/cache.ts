/**
 * The per-input embeddings cache: each input's vector is an entry of its own in the response
 * cache's tiers (L0 this isolate, L1 the location, L2 the store: cache/tiers.ts), under a
 * tenant-scoped key of model, input and dimensions, so a request whose inputs are partly cached
 * sends only the others to the backend. An entry is the vector as base64 float32 (its one chunk)
 * with the input's tokens as its prompt tokens. L0 is read synchronously; the L1 and L2 reads of the
 * rest are issued in the same tick (the L2 reads join the limiter's store round trip).
 */
import type { EmbeddingInput } from '../../../shared/contracts/embeddings';
import { sha256Hex } from '../../../shared/crypto/hash';
import type { AnswerSource } from '../../stages/state';
import type { CacheEntry } from '../cache/entry';
import { canonicalJson, type CacheSettings } from '../cache/key';
import type { MemoryTier } from '../cache/memory-tier';
import { l1Get, l1Put, l2Get, remainingTtlS, storedBytes, storeEntry } from '../cache/tiers';
import type { Store } from '../store';
import { base64ToVector, vectorToBase64 } from './vectors';

/** A cached input: its vector, the tokens it was counted at, and the tier that held it. */
export interface CachedVector {
  readonly vector: number[];
  readonly tokens: number;
  readonly tier: Exclude<AnswerSource, 'backend' | 'COALESCED'>;
}

/** The cache key of one input (hex SHA-256); `*` as the tenant for a model configured as shareable. */
export function inputKey(tenantId: string, model: string, input: EmbeddingInput, dimensions: number | undefined, settings: CacheSettings): Promise<string> {
  const tenant = settings.shareableModels.includes(model) ? '*' : tenantId;
  return sha256Hex(canonicalJson({ v: 1, kind: 'embedding', tenant, model, input, dimensions: dimensions ?? null }));
}

/** Where the tiers are, for reads and writes. */
export interface VectorTiers {
  readonly store: Store;
  readonly l0: MemoryTier;
  readonly l0Bytes: number;
  readonly storeTimeoutMs: number;
  readonly now: () => number;
  readonly background: (work: Promise<unknown>) => void;
}

const cached = (entry: CacheEntry, tier: CachedVector['tier']): CachedVector | undefined => {
  const chunk = entry.chunks[0];
  const text = typeof chunk === 'object' ? chunk.text : chunk;
  return text === undefined ? undefined : { vector: base64ToVector(text), tokens: entry.usage.prompt_tokens, tier };
};

/** Looks every key up (L0 now, L1 and L2 for the rest together); undefined where missed. A read from L1 or L2 is promoted. */
export function lookupVectors(tiers: VectorTiers, keys: readonly string[], ttlS: number): Promise<Array<CachedVector | undefined>> {
  return Promise.all(
    keys.map(async (key) => {
      const hot = tiers.l0.get(key, tiers.now());
      if (hot) return cached(hot, 'L0');
      const [fromL1, fromL2] = await Promise.all([l1Get(key, tiers.now()), l2Get(tiers.store, key, tiers.now(), tiers.storeTimeoutMs)]);
      const found = fromL1 ?? fromL2;
      if (!found) return undefined;
      tiers.l0.set(key, found.entry, storedBytes(found.json), tiers.l0Bytes, tiers.now());
      if (!fromL1) tiers.background(l1Put(key, found.json, remainingTtlS(found.entry, tiers.now(), ttlS)));
      return cached(found.entry, fromL1 ? 'L1' : 'L2');
    }),
  );
}

/** Stores one input's fresh vector in every tier for `ttlS` seconds (L1 and L2 in the background). */
export function storeVector(tiers: VectorTiers, key: string, vector: readonly number[], tokens: number, ttlS: number): void {
  const entry: CacheEntry = { v: 1, chunks: [vectorToBase64(vector)], usage: { prompt_tokens: tokens, completion_tokens: 0 }, modelLatencyMs: 0 };
  const stored = storeEntry({ store: tiers.store, l0: tiers.l0, l0Bytes: tiers.l0Bytes, now: tiers.now() }, key, entry, ttlS);
  if (stored?.send) tiers.background(stored.send);
}
