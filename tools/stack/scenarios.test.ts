/**
 * The stack's scenarios against the real components: `EDGE_LOCATIONS=3` runs three edge locations
 * in one workerd, each its own isolate (a key one location has cached is a store lookup at the
 * next), all on one store (one tenant's limit holds across them) and one set of queues (a job
 * submitted at one location is run by the consumer); `STORE_LATENCY_MS` makes every store request
 * that much slower at the bridge, and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from '@upstash/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createTenant } from '../tenancy/keys';
import { updateTenant } from '../tenancy/tenants';
import { ComponentStartError } from './child';
import { scenarioFromEnv, startStack, type Stack } from './stack';

// Well above what a request that needs no store takes on a loaded machine, and well below the store timeout (1 s).
const LATENCY_MS = 200;
let stack: Stack;
let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gw-scenarios-'));
  stack = await startStack({
    ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 },
    stateDir,
    scenario: { edgeLocations: 3, storeLatencyMs: LATENCY_MS },
  });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

/** A fresh tenant and key, created in the store after every location started (so none has it cached). */
async function freshKey(overrides: Record<string, number> = {}, scopes: Array<'infer' | 'jobs'> = ['infer']) {
  const store = new Redis({ url: stack.bridge.url, token: stack.bridgeToken, enableTelemetry: false });
  const tenant = await createTenant(store, { tenantId: `ten_scn_${randomBytes(5).toString('hex')}`, name: 'Scenario test', plan: 'pro' });
  if (Object.keys(overrides).length) await updateTenant(store, tenant.tenantId, { overrides });
  return (await createApiKey(store, { tenant, mode: 'test', scopes })).key;
}

/** Store round trips (bridge HTTP requests) one authenticated request costs, counted once it has settled. */
/** The usage queue waits up to 1 s to fill a batch: the previous request's record lands at the store (off its path) within this. */
const USAGE_BATCH_SETTLE_MS = 1_500;

/** Waits until the store has had no request for 300 ms (an earlier test's background work, such as a lease given back, has landed). */
async function storeQuiet(): Promise<void> {
  const deadline = Date.now() + 10_000;
  let seen = -1;
  let still = 0;
  while (still < 3 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const now = stack.bridge.stats().httpRequests;
    still = now === seen ? still + 1 : 0;
    seen = now;
  }
}

async function storeTripsOf(send: () => Promise<Response>): Promise<{ status: number; trips: number; ms: number }> {
  await new Promise((r) => setTimeout(r, USAGE_BATCH_SETTLE_MS));
  await storeQuiet();
  stack.bridge.resetStats();
  const started = performance.now();
  const res = await send();
  await res.arrayBuffer();
  const ms = performance.now() - started;
  await new Promise((r) => setTimeout(r, 2 * LATENCY_MS));
  return { status: res.status, trips: stack.bridge.stats().httpRequests, ms };
}

const models = (url: string, key: string) => () => fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });

describe('EDGE_LOCATIONS=3', () => {
  it('lists every location in stack.json, the first as gatewayUrl and components.edge', async () => {
    const info = JSON.parse(await readFile(join(stateDir, 'stack.json'), 'utf8'));
    expect(info.components.edges).toHaveLength(3);
    expect(new Set(info.components.edges).size).toBe(3);
    expect(info.gatewayUrl).toBe(info.components.edges[0]);
    expect(info.components.edge).toBe(info.components.edges[0]);
    expect(info.scenario).toEqual({ edgeLocations: 3, storeLatencyMs: LATENCY_MS });
    for (const url of info.components.edges) expect((await fetch(`${url}/health`)).status).toBe(200);
  });

  it('gives each location its own isolate: a key cached at one is a store lookup at the next', async () => {
    const key = await freshKey();
    const trips: number[][] = [];
    for (const url of stack.components.edges) {
      const cold = await storeTripsOf(models(url, key));
      const warm = await storeTripsOf(models(url, key));
      expect([cold.status, warm.status]).toEqual([200, 200]);
      trips.push([cold.trips, warm.trips]);
    }
    console.warn(`store round trips [cold, warm] per location: ${JSON.stringify(trips)}`);
    for (const [cold, warm] of trips) {
      expect(cold).toBeGreaterThan(0);
      expect(warm).toBe(0);
    }
  });

  it("holds one tenant's limit across the locations: they count in the same store", async () => {
    const key = await freshKey({ requestsPerMinute: 1, requestsPerHour: 1, requestsPerDay: 1 });
    const body = JSON.stringify({ model: stack.model, prompt: 'one per minute', params: { max_tokens: 2 } });
    const statuses: number[] = [];
    for (const url of stack.components.edges) {
      const res = await fetch(`${url}/v1/infer`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 429, 429]);
  });

  it('shares the queues: a job submitted at the last location is run by the consumer and read at another', async () => {
    const key = await freshKey({}, ['jobs']);
    const [first, , last] = stack.components.edges as [string, string, string];
    const submitted = await fetch(`${last}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: stack.model, prompt: 'a job across locations', params: { max_tokens: 4 } }),
    });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    let job: { status: string; result?: { usage: { completion_tokens: number } } } = { status: 'queued' };
    const deadline = Date.now() + 30_000;
    while (job.status !== 'succeeded' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      job = (await (await fetch(`${first}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } })).json()) as typeof job;
    }
    expect(job.status).toBe('succeeded');
    expect(job.result?.usage.completion_tokens).toBe(4);
  });
});

describe('STORE_LATENCY_MS', () => {
  it('holds every store request at the bridge, and nothing that needs no store', async () => {
    expect(stack.bridge.faults().latencyMs).toBe(LATENCY_MS);
    const key = await freshKey();
    const url = stack.gatewayUrl!;
    const cold = await storeTripsOf(models(url, key));
    const warm = await storeTripsOf(models(url, key));
    const health = await storeTripsOf(() => fetch(`${url}/health`));
    console.warn(
      `GET /v1/models: cold key ${cold.ms.toFixed(1)} ms (${cold.trips} store trips), warm ${warm.ms.toFixed(1)} ms; /health ${health.ms.toFixed(1)} ms`,
    );
    expect(cold.trips).toBeGreaterThan(0);
    expect(cold.ms).toBeGreaterThanOrEqual(LATENCY_MS);
    expect(warm.trips).toBe(0);
    expect(warm.ms).toBeLessThan(LATENCY_MS);
    expect(health.ms).toBeLessThan(LATENCY_MS);
  });

  it('reads both scenario variables from the environment, naming a bad one', () => {
    expect(scenarioFromEnv({})).toEqual({ edgeLocations: 1, storeLatencyMs: 0 });
    expect(scenarioFromEnv({ EDGE_LOCATIONS: '3', STORE_LATENCY_MS: '25' })).toEqual({ edgeLocations: 3, storeLatencyMs: 25 });
    for (const [name, value] of [
      ['EDGE_LOCATIONS', '0'],
      ['EDGE_LOCATIONS', '2.5'],
      ['EDGE_LOCATIONS', '17'],
      ['STORE_LATENCY_MS', '-1'],
      ['STORE_LATENCY_MS', 'far'],
    ] as const) {
      expect(() => scenarioFromEnv({ [name]: value }), `${name}=${value}`).toThrow(ComponentStartError);
      expect(() => scenarioFromEnv({ [name]: value })).toThrow(new RegExp(`${name} must be an integer`));
    }
  });
});
