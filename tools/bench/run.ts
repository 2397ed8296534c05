/**
 * The bench run: start everything, take the static figures, check and warm each subject, then
 * measure the load subjects interleaved (each round runs every subject once per mode, in a rotated
 * order, so machine noise hits all alike; the CPU time of the edge and the Lambda host is read from
 * /proc over the miss saturation runs), then the scenarios (store latency, edge locations, `npm
 * start` itself, embeddings batched vs unbatched), store commands and round trips, streaming and coalescing; stop everything.
 * Returns the raw results; goals.ts judges the goals and report.ts writes the tables.
 */
import { cpus, totalmem, release, platform } from 'node:os';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds } from '../stack/proc';
import { REPO_ROOT } from '../stack/stack';
import { startBenchEnvironment, type BenchEnvironment, type ModelLatency } from './environment';
import { LoadTally, type ModeResult } from './load';
import {
  measureAuthRoundTrips,
  measureCoalescedStreaming,
  measureCoalescing,
  measureRoundTrips,
  measureStreaming,
  type CoalescedStreamResult,
  type CoalescingResult,
  type RoundTrips,
  type StreamingResult,
} from './probes';
import {
  measureLocationAdmission,
  measureNpmStart,
  measureStoreLatency,
  type LocationAdmission,
  type NpmStartComparison,
  type StoreLatencyRun,
} from './scenarios';
import { measureEmbeddingsBatching, type EmbeddingsBatching } from './embeddings';
import { adapterFigures, workerSize, type AdapterFigure, type WorkerSize } from './static-figures';
import { measureStoreCommands, type StoreCommandCounts } from './store-commands';
import { buildSubjects, jobFor, SUBJECT_IDS, type LoadSubject, type SubjectGroup, type SubjectId } from './subjects';

export interface BenchOptions {
  readonly subjects: readonly SubjectId[];
  readonly rounds: number;
  /** Seconds per subject per mode per round. */
  readonly durationSec: number;
  /** Seconds of unrecorded load per subject before the first round. */
  readonly warmupSec: number;
  /** The fixed-rate mode: requests per second over this many connections. */
  readonly fixedRate: number;
  readonly fixedConnections: number;
  /** The saturation mode: this many connections, no rate limit. */
  readonly saturationConnections: number;
  /** Streamed requests per streaming subject (0 skips the phase). */
  readonly streamCount: number;
  /** Identical concurrent misses for the coalescing probe (0 skips it). */
  readonly coalesce: number;
  /** Sequential requests per edge subject when counting store round trips (0 skips it). */
  readonly roundTripCount: number;
  /** Cold inits per adapter and variant (0 skips the adapter figures). */
  readonly adapterInitRuns: number;
  /** Store latencies (ms, at the bridge) the STORE_LATENCY_MS scenario compares (empty skips it). */
  readonly storeLatencies: readonly number[];
  /** Rounds of the store-latency and npm start comparisons (fixed rate, `durationSec` each). */
  readonly scenarioRounds: number;
  /** EDGE_LOCATIONS: parallel requests over the locations against a limit (0 requests skips it). */
  readonly locationRequests: number;
  readonly locationLimit: number;
  /** Bursts per window, each from a fresh tenant: the goal holds only when every one of them is within bounds. */
  readonly locationRounds: number;
  /** How long the model holds each answer in the token-window probe, so no reservation settles early (ms). */
  readonly locationHoldMs: number;
  /** Embeddings batched vs unbatched: connections of the saturation mode (0 skips the scenario; the fixed mode is the load's). */
  readonly embeddingsSaturationConnections: number;
  /** Measure `npm start` itself beside the bench's stack. */
  readonly npmStart: boolean;
  /**
   * Rounds of the npm start comparison (fixed rate, `durationSec` per subject each): more than the
   * other scenarios', since two whole stacks share the machine and its speed drifts within a run
   * (a miss's p50 moved by several ms between runs minutes apart), so finer interleaving matters.
   */
  readonly npmStartRounds: number;
  /** Seconds of steady load per subject while counting store commands (0 skips the count). */
  readonly storeCommandSeconds: number;
  /** Concurrent identical streams per coalesced-stream trial (0 skips it). */
  readonly coalescedStreams: number;
  readonly coalescedStreamTrials: number;
  /** Build the Worker a second time, minified, for reference. */
  readonly minifiedWorker: boolean;
  readonly loadLatency: ModelLatency;
  readonly streamLatency: ModelLatency;
}

export const DEFAULT_OPTIONS: BenchOptions = {
  subjects: SUBJECT_IDS,
  rounds: 3,
  durationSec: 2,
  warmupSec: 1,
  fixedRate: 100,
  fixedConnections: 4,
  saturationConnections: 16,
  streamCount: 30,
  coalesce: 100,
  roundTripCount: 10,
  adapterInitRuns: 5,
  storeLatencies: [0, 25],
  scenarioRounds: 2,
  locationRequests: 300,
  locationLimit: 50,
  locationRounds: 3,
  locationHoldMs: 2000,
  embeddingsSaturationConnections: 32,
  npmStart: true,
  npmStartRounds: 6,
  storeCommandSeconds: 3,
  coalescedStreams: 20,
  coalescedStreamTrials: 3,
  minifiedWorker: true,
  loadLatency: { ttftMs: 0, perTokenMs: 0 },
  streamLatency: { ttftMs: 20, perTokenMs: 2 },
};

export type ModeName = 'fixed' | 'saturation';

/** CPU seconds of the edge's workerd and of the Lambda host over the miss saturation runs. */
export interface CpuAccount {
  readonly subject: string;
  readonly requests: number;
  readonly edgeCpuSeconds: number;
  readonly lambdaHostCpuSeconds: number;
  /** Per request, ms. */
  readonly edgeCpuMsPerRequest: number;
  readonly lambdaHostCpuMsPerRequest: number;
}

export interface SubjectResult {
  readonly id: SubjectId;
  readonly label: string;
  readonly group: SubjectGroup;
  readonly available: boolean;
  readonly reason?: string;
  /** Cache / rate-limit headers seen while checking the path. */
  readonly note?: string;
  /** The cache tier a warm hit of this subject came from. */
  readonly tier?: string;
  readonly modes: Partial<Record<ModeName, ModeResult>>;
}

export interface RawResults {
  readonly date: string;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memoryGiB: number; readonly os: string; readonly node: string };
  readonly versions: Record<string, string>;
  readonly options: BenchOptions;
  readonly subjects: SubjectResult[];
  readonly roundTrips: RoundTrips[];
  readonly streaming: StreamingResult[];
  readonly coalescing: CoalescingResult | null;
  readonly coalescedStreaming: CoalescedStreamResult | null;
  readonly cpu: CpuAccount | null;
  /** The same during the `miss-no-usage` saturation runs (the copy with the usage ledger off). */
  readonly cpuNoUsage: CpuAccount | null;
  readonly storeLatency: StoreLatencyRun[];
  readonly locations: LocationAdmission[];
  readonly embeddings: EmbeddingsBatching | null;
  readonly npmStart: NpmStartComparison | null;
  readonly storeCommands: StoreCommandCounts | null;
  readonly worker: WorkerSize;
  readonly adapters: AdapterFigure[] | { readonly error: string } | null;
  readonly runSeconds: number;
}

async function versionOf(pkg: string): Promise<string> {
  try {
    return (JSON.parse(await readFile(join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** Runs the whole bench; `progress` gets a line per phase. */
export async function runBench(options: BenchOptions, progress: (line: string) => void): Promise<RawResults> {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const phase = (line: string) => progress(`[${elapsed()}] ${line}`);
  phase('starting: stack, edge (deploy bundle in workerd), peer gateway, load generator');
  const env = await startBenchEnvironment(progress, options.loadLatency);
  const scratch = await mkdtemp(join(tmpdir(), 'gw-bench-static-'));
  try {
    phase('static figures: worker bundle size, adapter bundles and cold init');
    const worker = options.minifiedWorker
      ? await workerSize(env.bundle, scratch)
      : { bytes: env.bundle.bytes, gzipBytes: env.bundle.gzipBytes, minifiedBytes: Number.NaN, minifiedGzipBytes: Number.NaN };
    let adapters: RawResults['adapters'] = null;
    if (options.adapterInitRuns > 0)
      adapters = await adapterFigures(options.adapterInitRuns).catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }));

    const all = buildSubjects(env);
    const subjects = options.subjects.map((id) => all[id]);
    const checked = new Map<SubjectId, { available: boolean; reason?: string; note?: string; tier?: string }>();
    const tallies = new Map<SubjectId, Record<ModeName, LoadTally>>();
    phase(`checking and warming ${subjects.length} subjects`);
    for (const s of subjects) {
      const a = await s.prepare().catch((e: unknown) => ({ available: false as const, reason: e instanceof Error ? e.message : String(e) }));
      checked.set(s.id, a.available ? { available: true, ...(a.note ? { note: a.note } : {}), ...(a.tier ? { tier: a.tier } : {}) } : a);
      tallies.set(s.id, { fixed: new LoadTally(s.expectStatus), saturation: new LoadTally(s.expectStatus) });
      progress(`  ${s.id.padEnd(15)} ${a.available ? `ok${a.note ? ` (${a.note})` : ''}` : a.reason}`);
      if (a.available && options.warmupSec > 0) await env.load.run(jobFor(s, { connections: options.fixedConnections }, options.warmupSec));
    }

    const modes: Array<{ name: ModeName; connections: number; rate?: number }> = [
      { name: 'fixed', connections: options.fixedConnections, rate: options.fixedRate },
      { name: 'saturation', connections: options.saturationConnections },
    ];
    const measured = subjects.filter((s) => checked.get(s.id)?.available);
    const cpu = new CpuMeter(env);
    // The usage queue's consumer runs in the same workerd, so its CPU is in the edge's figure.
    const cpuNoUsage = new CpuMeter(env);
    for (let round = 0; round < options.rounds; round += 1) {
      for (const mode of modes) {
        phase(
          `round ${round + 1}/${options.rounds}, ${mode.name === 'fixed' ? `fixed rate ${mode.rate} req/s` : `saturation, ${mode.connections} connections`}: ${measured.map((s) => s.id).join(' ')}`,
        );
        // Rotate the order every round so no subject always runs first (or right after the heaviest).
        const order = measured.map((_, i) => measured[(i + round) % measured.length]!);
        for (const s of order) {
          const meter = mode.name !== 'saturation' ? undefined : s.id === 'miss' ? cpu : s.id === 'miss-no-usage' ? cpuNoUsage : undefined;
          if (meter) await meter.start();
          const r = await env.load.run(jobFor(s, mode, options.durationSec));
          if (meter) await meter.stop(Object.values(r.statuses).reduce((a, b) => a + b, 0));
          tallies.get(s.id)![mode.name].add(r);
        }
      }
    }

    const fixed = { rate: options.fixedRate, connections: options.fixedConnections, durationSec: options.durationSec, rounds: options.scenarioRounds };
    const byId = (ids: readonly SubjectId[]): LoadSubject[] => ids.map((id) => all[id]).filter((s) => checked.get(s.id)?.available);
    let storeLatency: StoreLatencyRun[] = [];
    if (options.storeLatencies.length > 0) {
      phase(`STORE_LATENCY_MS ${options.storeLatencies.join(' / ')}: blocked, hit, hit-l2, miss at ${options.fixedRate} req/s, interleaved`);
      storeLatency = await measureStoreLatency(env, byId(['blocked', 'hit', 'hit-l2', 'miss']), options.storeLatencies, fixed);
    }
    let npmStart: NpmStartComparison | null = null;
    if (options.npmStart) {
      phase('npm start: the launcher as a user runs it, its gatewayUrl beside the bench stack (blocked, hit, miss)');
      npmStart = await measureNpmStart(env, { ...fixed, rounds: options.npmStartRounds }, options.loadLatency);
      if (!npmStart.available) progress(`  npm start not measured: ${npmStart.reason}`);
    }
    const locations: LocationAdmission[] = [];
    if (options.locationRequests > 0) {
      phase(
        `EDGE_LOCATIONS=${env.edge.locations.length}: ${options.locationRequests} parallel requests over the locations against L = ${options.locationLimit}, ${options.locationRounds} rounds per window`,
      );
      for (const window of ['requests per minute', 'tokens per minute'] as const)
        for (let round = 0; round < Math.max(1, options.locationRounds); round += 1)
          locations.push(
            await measureLocationAdmission(env, window, {
              limit: options.locationLimit,
              sent: options.locationRequests,
              holdMs: options.locationHoldMs,
              restoreLatency: options.loadLatency,
            }),
          );
    }

    let embeddings: EmbeddingsBatching | null = null;
    if (options.embeddingsSaturationConnections > 0) {
      phase(
        `embeddings: batched vs unbatched, one fresh input per request, at ${options.fixedRate} req/s and at saturation (${options.embeddingsSaturationConnections} connections), interleaved`,
      );
      embeddings = await measureEmbeddingsBatching(env, {
        rate: options.fixedRate,
        connections: options.fixedConnections,
        saturationConnections: options.embeddingsSaturationConnections,
        durationSec: options.durationSec,
        rounds: options.scenarioRounds,
      });
      if (!embeddings.available) progress(`  embeddings batching not measured: ${embeddings.reason}`);
    }

    let storeCommands: StoreCommandCounts | null = null;
    if (options.storeCommandSeconds > 0) {
      phase(`store commands per admitted request (Redis MONITOR): miss and hit at ${options.fixedRate} req/s, then one by one`);
      storeCommands = await measureStoreCommands(env, byId(['miss', 'hit']), {
        rate: options.fixedRate,
        connections: options.fixedConnections,
        seconds: options.storeCommandSeconds,
        sequential: Math.max(1, options.roundTripCount),
      });
    }
    const roundTrips: RoundTrips[] = [];
    if (options.roundTripCount > 0) {
      phase('store round trips per request, counted at the Upstash bridge');
      roundTrips.push(await measureAuthRoundTrips(env, options.roundTripCount));
      for (const s of subjects) if (s.edge && checked.get(s.id)?.available) roundTrips.push(await measureRoundTrips(env, s, options.roundTripCount));
    }

    let streaming: StreamingResult[] = [];
    let coalescing: CoalescingResult | null = null;
    let coalescedStreaming: CoalescedStreamResult | null = null;
    if (options.streamCount > 0 || options.coalesce > 0 || options.coalescedStreams > 0) await env.setModelLatency(options.streamLatency);
    if (options.streamCount > 0) {
      phase(
        `streaming: ${options.streamCount} requests each, direct / adapter / gateway / peer, interleaved (model ttft ${options.streamLatency.ttftMs} ms, ${options.streamLatency.perTokenMs} ms/token)`,
      );
      streaming = await measureStreaming(env, options.streamCount);
    }
    if (options.coalescedStreams > 0) {
      phase(`coalesced streams: ${options.coalescedStreamTrials} × ${options.coalescedStreams} identical concurrent streaming misses`);
      coalescedStreaming = await measureCoalescedStreaming(env, options.coalescedStreams, options.coalescedStreamTrials);
    }
    if (options.coalesce > 0) {
      phase(`coalescing: ${options.coalesce} identical concurrent misses`);
      coalescing = await measureCoalescing(env, options.coalesce);
    }

    const subjectResults: SubjectResult[] = subjects.map((s) => {
      const c = checked.get(s.id)!;
      const modeResults: Partial<Record<ModeName, ModeResult>> = {};
      if (c.available) for (const m of modes) modeResults[m.name] = tallies.get(s.id)![m.name].result();
      return { id: s.id, label: s.label, group: s.group, ...c, modes: modeResults };
    });
    phase('stopping everything');
    const cpuList = cpus();
    return {
      date: new Date().toISOString(),
      machine: {
        cpu: cpuList[0]?.model ?? 'unknown',
        cores: cpuList.length,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        os: `${platform()} ${release()}`,
        node: process.version,
      },
      versions: {
        '@portkey-ai/gateway': await versionOf('@portkey-ai/gateway'),
        autocannon: await versionOf('autocannon'),
        wrangler: await versionOf('wrangler'),
        miniflare: await versionOf('miniflare'),
        workerd: await versionOf('workerd'),
      },
      options,
      subjects: subjectResults,
      roundTrips,
      streaming,
      coalescing,
      coalescedStreaming,
      cpu: cpu.account('miss'),
      cpuNoUsage: cpuNoUsage.account('miss-no-usage'),
      storeLatency,
      locations,
      embeddings,
      npmStart,
      storeCommands,
      worker,
      adapters,
      runSeconds: Math.round((performance.now() - started) / 1000),
    };
  } finally {
    await env.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Adds up the CPU time of the edge's workerd and of the Lambda host over metered runs (/proc/<pid>/stat). */
class CpuMeter {
  #edge = 0;
  #lambdaHost = 0;
  #requests = 0;
  #at: { edge: number; lambdaHost: number } | undefined;
  #unavailable = false;

  constructor(private readonly env: BenchEnvironment) {}

  async #read(): Promise<{ edge: number; lambdaHost: number } | undefined> {
    const { edge, lambdaHost } = this.env.stack.pids;
    const [e, l] = await Promise.all([edge === undefined ? undefined : cpuSeconds(edge), cpuSeconds(lambdaHost)]);
    return e === undefined || l === undefined ? undefined : { edge: e, lambdaHost: l };
  }

  async start(): Promise<void> {
    this.#at = await this.#read();
    if (!this.#at) this.#unavailable = true;
  }

  async stop(requests: number): Promise<void> {
    const now = await this.#read();
    if (!now || !this.#at) {
      this.#unavailable = true;
      return;
    }
    this.#edge += now.edge - this.#at.edge;
    this.#lambdaHost += now.lambdaHost - this.#at.lambdaHost;
    this.#requests += requests;
  }

  account(subject: string): CpuAccount | null {
    if (this.#unavailable || this.#requests === 0) return null;
    const ms = (seconds: number) => Math.round(((seconds * 1000) / this.#requests) * 1000) / 1000;
    return {
      subject,
      requests: this.#requests,
      edgeCpuSeconds: Math.round(this.#edge * 100) / 100,
      lambdaHostCpuSeconds: Math.round(this.#lambdaHost * 100) / 100,
      edgeCpuMsPerRequest: ms(this.#edge),
      lambdaHostCpuMsPerRequest: ms(this.#lambdaHost),
    };
  }
}
