/**
 * The stack's scenarios, measured: `STORE_LATENCY_MS` (the bridge's latency knob switched between
 * values while the same subjects run, interleaved), `EDGE_LOCATIONS` (N parallel requests spread
 * over the locations against one tenant's limit of L, requests and tokens), and `npm start` itself
 * (the launcher spawned as a user runs it, its own gatewayUrl measured beside the bench's stack).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from '@upstash/redis';
import { estimateTokens } from '../../shared/tokens';
import { createApiKey, createTenant } from '../tenancy/keys';
import { updateTenant } from '../tenancy/tenants';
import { spawnChild, waitUntilReady } from '../stack/child';
import { REPO_ROOT, type StackInfo } from '../stack/stack';
import { BENCH_MODEL, createBenchTenants, UNLIMITED, type BenchEnvironment, type ModelLatency } from './environment';
import { LoadTally, type ModeResult } from './load';
import { gatewaySubjects, jobFor, type LoadSubject } from './subjects';

/** Fixed-rate load of one mode. */
interface FixedMode {
  readonly rate: number;
  readonly connections: number;
  readonly durationSec: number;
  readonly rounds: number;
}

/** Runs every subject of every group once per round, the order rotated each round. */
async function interleaved<K extends string>(
  groups: ReadonlyArray<{ readonly key: K; readonly subjects: readonly LoadSubject[]; readonly before?: () => Promise<void> }>,
  env: BenchEnvironment,
  mode: FixedMode,
): Promise<Record<K, Record<string, ModeResult>>> {
  const tallies = new Map<string, LoadTally>();
  for (let round = 0; round < mode.rounds; round += 1) {
    const order = groups.map((_, i) => groups[(i + round) % groups.length]!);
    for (const group of order) {
      await group.before?.();
      for (const s of group.subjects) {
        const id = `${group.key}\n${s.id}`;
        if (!tallies.has(id)) tallies.set(id, new LoadTally(s.expectStatus));
        tallies.get(id)!.add(await env.load.run(jobFor(s, { connections: mode.connections, rate: mode.rate }, mode.durationSec)));
      }
    }
  }
  const out = {} as Record<K, Record<string, ModeResult>>;
  for (const group of groups) out[group.key] = Object.fromEntries(group.subjects.map((s) => [s.id, tallies.get(`${group.key}\n${s.id}`)!.result()]));
  return out;
}

/** The same subjects with the store that many ms away. */
export interface StoreLatencyRun {
  readonly latencyMs: number;
  readonly subjects: Record<string, ModeResult>;
}

/** Measures `subjects` at each store latency (set at the bridge), interleaved; leaves the latency at 0. */
export async function measureStoreLatency(
  env: BenchEnvironment,
  subjects: readonly LoadSubject[],
  latencies: readonly number[],
  mode: FixedMode,
): Promise<StoreLatencyRun[]> {
  try {
    const results = await interleaved(
      latencies.map((latencyMs) => ({
        key: String(latencyMs),
        subjects,
        before: async () => {
          env.stack.bridge.setFaults({ latencyMs });
          // One unrecorded request each, so no sample straddles the change.
          for (const s of subjects)
            await fetch(s.target.url, {
              method: s.target.method,
              headers: s.target.headers,
              body: s.target.body.replaceAll('[<id>]', randomBytes(6).toString('hex')),
            }).then((r) => r.arrayBuffer());
        },
      })),
      env,
      mode,
    );
    return latencies.map((latencyMs) => ({ latencyMs, subjects: results[String(latencyMs)] ?? {} }));
  } finally {
    env.stack.bridge.setFaults({ latencyMs: 0 });
  }
}

/** N parallel requests over the locations against a limit of L in one window. */
export interface LocationAdmission {
  readonly window: 'requests per minute' | 'tokens per minute';
  /** The limit, in requests (a token window's limit is this many requests' reservations). */
  readonly limit: number;
  readonly tokensPerRequest?: number;
  readonly sent: number;
  readonly locations: number;
  readonly admitted: number;
  readonly refused: number;
  /** Admitted per location. */
  readonly admittedPerLocation: number[];
  /** Any other answer (status or error: count). */
  readonly other: Record<string, number>;
  readonly wallMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until at least `needMs` remain in the current minute: a fixed window must not end mid-probe. */
async function awayFromMinuteEnd(needMs: number): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < needMs) await sleep(left + 250);
}

/**
 * `sent` parallel requests, round robin over the stack's locations, from a fresh tenant whose
 * requests-per-minute (or tokens-per-minute, sized to `limit` requests) is `limit`. For the token
 * window the model answers after `holdMs`, so no reservation settles before every request is decided.
 */
export async function measureLocationAdmission(
  env: BenchEnvironment,
  window: LocationAdmission['window'],
  options: { readonly limit: number; readonly sent: number; readonly holdMs: number; readonly restoreLatency: ModelLatency },
): Promise<LocationAdmission> {
  const locations = env.edge.locations;
  const store = new Redis({ url: env.stack.bridge.url, token: env.stack.bridgeToken, enableTelemetry: false });
  const tenant = await createTenant(store, { tenantId: `ten_bench_loc_${randomBytes(5).toString('hex')}`, name: 'Bench (locations)', plan: 'enterprise' });
  const maxTokens = 16;
  // Fixed-width prompts: every request reserves the same number of tokens.
  const prompt = (i: number) => `Locations probe ${String(i).padStart(6, '0')}`;
  const tokensPerRequest = estimateTokens(prompt(0)) + maxTokens;
  const tokenWindow = window === 'tokens per minute';
  await updateTenant(store, tenant.tenantId, {
    overrides: {
      requestsPerMinute: tokenWindow ? UNLIMITED : options.limit,
      requestsPerHour: UNLIMITED,
      requestsPerDay: UNLIMITED,
      tokensPerMinute: tokenWindow ? options.limit * tokensPerRequest : UNLIMITED,
      tokensPerDay: UNLIMITED,
    },
  });
  const key = (await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] })).key;
  // Every location learns the key first (a request no limit counts): the probe is about the limit, not cold keys.
  for (const url of locations) await (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).arrayBuffer();
  if (tokenWindow) await env.setModelLatency({ ttftMs: options.holdMs, perTokenMs: 0 });
  try {
    await awayFromMinuteEnd(options.holdMs + 8_000);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: options.sent }, async (_, i) => {
        const location = i % locations.length;
        try {
          const res = await fetch(`${locations[location]}/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'cache-control': 'no-store' },
            body: JSON.stringify({ model: BENCH_MODEL, messages: [{ role: 'user', content: prompt(i) }], max_tokens: maxTokens, temperature: 0 }),
            signal: AbortSignal.timeout(30_000),
          });
          const text = await res.text();
          if (res.status === 200 || res.status === 429) return { location, outcome: String(res.status) };
          const code = /"code":"([A-Z_]+)"/.exec(text)?.[1];
          return { location, outcome: `${res.status}${code ? ` ${code}` : ''}` };
        } catch (err) {
          return { location, outcome: err instanceof Error ? err.name : 'error' };
        }
      }),
    );
    const wallMs = Math.round(performance.now() - started);
    const admittedPerLocation = locations.map(() => 0);
    const other: Record<string, number> = {};
    let refused = 0;
    for (const a of answers) {
      if (a.outcome === '200') admittedPerLocation[a.location]! += 1;
      else if (a.outcome === '429') refused += 1;
      else other[a.outcome] = (other[a.outcome] ?? 0) + 1;
    }
    return {
      window,
      limit: options.limit,
      ...(tokenWindow ? { tokensPerRequest } : {}),
      sent: options.sent,
      locations: locations.length,
      admitted: admittedPerLocation.reduce((a, b) => a + b, 0),
      refused,
      admittedPerLocation,
      other,
      wallMs,
    };
  } finally {
    if (tokenWindow) await env.setModelLatency(options.restoreLatency);
  }
}

/** `npm start` measured through its own gatewayUrl beside the bench's stack, per subject. */
export interface NpmStartComparison {
  readonly available: boolean;
  readonly reason?: string;
  readonly gatewayUrl?: string;
  readonly edgeRuntime?: string;
  /** Subject id → the bench stack's and npm start's figures. */
  readonly subjects: Record<string, { readonly bench: ModeResult; readonly npmStart: ModeResult }>;
}

/** Saturation warm-up of each npm start subject before the comparison (the bench's stack is warm by then). */
const NPM_START_WARMUP_CONNECTIONS = 16;
const NPM_START_WARMUP_SEC = 4;

/** `npm start` (tools/stack/cli.ts, as the npm script runs it) in a state dir of its own, on free ports. */
async function launchNpmStart(redisUrl: string, latency: ModelLatency): Promise<{ info: StackInfo; stop(): Promise<void> }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'gw-bench-npm-start-'));
  const child = spawnChild({
    name: 'npm-start',
    command: process.execPath,
    args: ['--import', 'tsx', join(REPO_ROOT, 'tools/stack/cli.ts')],
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      STACK_STATE_DIR: stateDir,
      GATEWAY_PORT: '0',
      UPSTASH_BRIDGE_PORT: '0',
      MODEL_SERVER_PORT: '0',
      LAMBDA_HOST_PORT: '0',
      METRICS_SINK_PORT: '0',
      // The bench's private Redis: nothing else's traffic on it, and no second server to start.
      REDIS_URL: redisUrl,
    },
  });
  const stop = async () => {
    await child.stop(10_000);
    await rm(stateDir, { recursive: true, force: true });
  };
  try {
    let ready = false;
    await waitUntilReady(child, async () => (ready ||= child.tail().includes('Press Ctrl-C')), 'never printed "Press Ctrl-C"', 120_000);
    const info = JSON.parse(await readFile(join(stateDir, 'stack.json'), 'utf8')) as StackInfo;
    const put = await fetch(`${info.components.modelServer}/admin/config`, { method: 'PUT', body: JSON.stringify(latency) });
    if (!put.ok) throw new Error(`the model server refused its latency: ${put.status}`);
    return { info, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Starts `npm start`, then measures blocked, hit and miss through it and through the bench's stack, interleaved. */
export async function measureNpmStart(env: BenchEnvironment, mode: FixedMode, latency: ModelLatency): Promise<NpmStartComparison> {
  let launched: Awaited<ReturnType<typeof launchNpmStart>>;
  try {
    launched = await launchNpmStart(env.stack.components.redis, latency);
  } catch (err) {
    return { available: false, reason: `npm start did not come up: ${err instanceof Error ? err.message : String(err)}`, subjects: {} };
  }
  try {
    const { info } = launched;
    if (!info.gatewayUrl) return { available: false, reason: 'npm start wrote no gatewayUrl', subjects: {} };
    const tenants = await createBenchTenants(info.components.bridge, info.bridgeToken);
    const pick = (all: ReturnType<typeof gatewaySubjects>) => [all.blocked, all.hit, all.miss];
    const bench = pick(gatewaySubjects(env.edge.url, env));
    const npmStart = pick(gatewaySubjects(info.gatewayUrl, tenants));
    for (const s of [...bench, ...npmStart]) {
      const availability = await s.prepare();
      if (!availability.available) return { available: false, reason: `${s.id} at ${s.target.url}: ${availability.reason}`, subjects: {} };
      await env.load.run(jobFor(s, { connections: mode.connections }, 0.5));
    }
    // The bench's stack has served minutes of load by now, npm start's nothing: without this its
    // code would be measured before V8 optimised it (a fresh miss path is a few ms slower).
    for (const s of npmStart) await env.load.run(jobFor(s, { connections: NPM_START_WARMUP_CONNECTIONS }, NPM_START_WARMUP_SEC));
    const results = await interleaved(
      [
        { key: 'bench', subjects: bench },
        { key: 'npmStart', subjects: npmStart },
      ],
      env,
      mode,
    );
    return {
      available: true,
      gatewayUrl: info.gatewayUrl,
      ...(info.edgeRuntime ? { edgeRuntime: info.edgeRuntime } : {}),
      subjects: Object.fromEntries(bench.map((s) => [s.id, { bench: results.bench[s.id]!, npmStart: results.npmStart[s.id]! }])),
    };
  } finally {
    await launched.stop();
  }
}
