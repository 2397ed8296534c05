/**
 * Which backend serves a request: a weighted pick by a deterministic hash of tenant and request id
 * (tenant only when the route is sticky), then the order in which the rest are tried. Pure
 * functions, so canary shares can be proven over thousands of ids without a network.
 */
import type { Backend, ModelRoute } from '../route-table';

/** A chosen backend with the variant label it reports in `X-Variant`. */
export interface Candidate {
  readonly backend: Backend;
  readonly variant: string | undefined;
  /** `primary` for the weighted pick, `fallback` for everything after it. */
  readonly role: 'primary' | 'fallback';
}

/** FNV-1a, 32 bits: fast, stable across isolates and runtimes, well spread for short ids. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32) so ids differing only in their last characters spread evenly.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const weighted = (route: ModelRoute) => route.backends.some((b) => b.weight !== undefined);

/** The weighted pick among `route.backends` for this tenant and request. */
export function pickBackend(route: ModelRoute, tenantId: string, requestId: string): Backend {
  const first = route.backends[0]!;
  if (!weighted(route)) return first;
  const weights = route.backends.map((b) => b.weight ?? 0);
  const total = weights.reduce((a, b) => a + b, 0);
  const key = route.sticky ? `tenant:${tenantId}` : `${tenantId}\n${requestId}`;
  // 2^32 buckets mapped onto [0, total): the share of each backend is its weight / total.
  let point = (hash32(key) / 0x1_0000_0000) * total;
  for (let i = 0; i < route.backends.length; i++) {
    point -= weights[i]!;
    if (point < 0 && weights[i]! > 0) return route.backends[i]!;
  }
  return route.backends.findLast((_, i) => weights[i]! > 0) ?? first;
}

/**
 * Every backend to try, in order: the weighted pick, then (legacy, unweighted tables only) the
 * other listed backends, then the route's fallbacks. A backend appears once.
 */
export function candidates(route: ModelRoute, tenantId: string, requestId: string): Candidate[] {
  const primary = pickBackend(route, tenantId, requestId);
  const isWeighted = weighted(route);
  const variantOf = (b: Backend) => b.variant ?? (isWeighted ? b.name : undefined);
  const out: Candidate[] = [{ backend: primary, variant: variantOf(primary), role: 'primary' }];
  const rest = [...(isWeighted ? [] : route.backends.slice(1)), ...route.fallbacks];
  for (const backend of rest) {
    if (out.some((c) => c.backend.name === backend.name)) continue;
    out.push({ backend, variant: backend.variant, role: 'fallback' });
  }
  return out;
}
