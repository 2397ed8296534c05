/**
 * Test support for store outages inside workerd: the bindings of a worker whose store is the outage
 * bridge (test/setup/outage-bridge.ts, a second bridge on the stack's Redis), and that bridge's
 * fault knobs (`PUT /admin/config`: `latencyMs`, `fault: "unavailable" | "reset"`). Other tests keep
 * the stack's healthy bridge.
 */
import { env } from 'cloudflare:test';
import { inject } from 'vitest';

/** A patch of the bridge's knobs (tools/upstash-bridge/faults.ts). */
export interface StoreFaults {
  readonly latencyMs?: number;
  readonly fault?: null | 'unavailable' | 'reset';
}

/** The three outages every store-path test rehearses, each with the knobs that make it. */
export const STORE_OUTAGES = [
  { name: 'unavailable (503 from the store)', faults: { fault: 'unavailable' } },
  { name: 'reset (connections dropped)', faults: { fault: 'reset' } },
  { name: 'stall (5 s latency)', faults: { latencyMs: 5_000 } },
] as const satisfies ReadonlyArray<{ name: string; faults: StoreFaults }>;

/** Sets the outage bridge's knobs; throws when the bridge refuses them. */
export async function setStoreFaults(faults: StoreFaults): Promise<void> {
  const res = await fetch(`${inject('outageBridgeUrl')}/admin/config`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${inject('outageBridgeToken')}`, 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
  if (!res.ok) throw new Error(`the outage bridge refused ${JSON.stringify(faults)}: ${res.status} ${await res.text()}`);
}

/** Clears every knob: the outage bridge serves normally again. */
export const clearStoreFaults = () => setStoreFaults({ latencyMs: 0, fault: null });

/** Worker bindings whose store is the outage bridge, plus `extra`. */
export function outageBindings(extra: Record<string, string> = {}): Record<string, unknown> {
  return { ...(env as Record<string, unknown>), UPSTASH_REDIS_REST_URL: inject('outageBridgeUrl'), ...extra };
}
