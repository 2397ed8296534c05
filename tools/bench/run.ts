/**
 * The bench run: start everything, take the static figures, check and warm each subject, then
 * measure the load subjects interleaved (each round runs every subject once per mode, in a rotated
 * order, so machine noise hits all alike), then streaming, coalescing and store round trips; stop
 * everything. Returns the raw results; report.ts judges the goals and writes the tables.
 */
import { cpus, totalmem, release, platform } from 'node:os';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../stack/stack';
import { startBenchEnvironment, type ModelLatency } from './environment';
import {
  measureAuthRoundTrips,
  measureCoalescing,
  measureRoundTrips,
  measureStreaming,
  type CoalescingResult,
  type RoundTrips,
  type StreamingResult,
} from './probes';
import { adapterFigures, workerSize, type AdapterFigure, type WorkerSize } from './static-figures';
import { summarize, type LatencySummary } from './stats';
import { buildSubjects, jobFor, SUBJECT_IDS, type SubjectGroup, type SubjectId } from './subjects';

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
  minifiedWorker: true,
  loadLatency: { ttftMs: 0, perTokenMs: 0 },
  streamLatency: { ttftMs: 20, perTokenMs: 2 },
};

export type ModeName = 'fixed' | 'saturation';

export interface ModeResult {
  readonly summary: LatencySummary;
  readonly statuses: Record<string, number>;
  /** Responses whose status was not the subject's expected one, plus errors and timeouts. */
  readonly unexpected: number;
}

export interface SubjectResult {
  readonly id: SubjectId;
  readonly label: string;
  readonly group: SubjectGroup;
  readonly available: boolean;
  readonly reason?: string;
  /** Cache / rate-limit headers seen while checking the path. */
  readonly note?: string;
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
    const results = new Map<
      SubjectId,
      {
        available: boolean;
        reason?: string;
        note?: string;
        samples: Record<ModeName, number[]>;
        seconds: Record<ModeName, number>;
        statuses: Record<ModeName, Record<string, number>>;
        bad: Record<ModeName, number>;
      }
    >();
    phase(`checking and warming ${subjects.length} subjects`);
    for (const s of subjects) {
      const availability = await s.prepare().catch((e: unknown) => ({ available: false as const, reason: e instanceof Error ? e.message : String(e) }));
      const entry = {
        available: availability.available,
        ...(availability.available ? (availability.note ? { note: availability.note } : {}) : { reason: availability.reason }),
        samples: { fixed: [], saturation: [] },
        seconds: { fixed: 0, saturation: 0 },
        statuses: { fixed: {}, saturation: {} },
        bad: { fixed: 0, saturation: 0 },
      };
      results.set(s.id, entry);
      progress(`  ${s.id.padEnd(15)} ${availability.available ? `ok${availability.note ? ` (${availability.note})` : ''}` : availability.reason}`);
      if (availability.available && options.warmupSec > 0) await env.load.run(jobFor(s, { connections: options.fixedConnections }, options.warmupSec));
    }

    const modes: Array<{ name: ModeName; connections: number; rate?: number }> = [
      { name: 'fixed', connections: options.fixedConnections, rate: options.fixedRate },
      { name: 'saturation', connections: options.saturationConnections },
    ];
    const measured = subjects.filter((s) => results.get(s.id)?.available);
    for (let round = 0; round < options.rounds; round += 1) {
      for (const mode of modes) {
        phase(
          `round ${round + 1}/${options.rounds}, ${mode.name === 'fixed' ? `fixed rate ${mode.rate} req/s` : `saturation, ${mode.connections} connections`}: ${measured.map((s) => s.id).join(' ')}`,
        );
        // Rotate the order every round so no subject always runs first (or right after the heaviest).
        const order = measured.map((_, i) => measured[(i + round) % measured.length]!);
        for (const s of order) {
          const r = await env.load.run(jobFor(s, mode, options.durationSec));
          const entry = results.get(s.id)!;
          entry.samples[mode.name].push(...r.samplesMs);
          entry.seconds[mode.name] += r.durationSec;
          for (const [status, n] of Object.entries(r.statuses)) {
            entry.statuses[mode.name][status] = (entry.statuses[mode.name][status] ?? 0) + n;
            if (Number(status) !== s.expectStatus) entry.bad[mode.name] += n;
          }
          entry.bad[mode.name] += r.errors + r.timeouts;
        }
      }
    }

    const roundTrips: RoundTrips[] = [];
    if (options.roundTripCount > 0) {
      phase('store round trips per request, counted at the Upstash bridge');
      roundTrips.push(await measureAuthRoundTrips(env, options.roundTripCount));
      for (const s of subjects) if (s.edge && results.get(s.id)?.available) roundTrips.push(await measureRoundTrips(env, s, options.roundTripCount));
    }

    let streaming: StreamingResult[] = [];
    let coalescing: CoalescingResult | null = null;
    if (options.streamCount > 0 || options.coalesce > 0) await env.setModelLatency(options.streamLatency);
    if (options.streamCount > 0) {
      phase(
        `streaming: ${options.streamCount} requests each, direct / gateway / peer, interleaved (model ttft ${options.streamLatency.ttftMs} ms, ${options.streamLatency.perTokenMs} ms/token)`,
      );
      streaming = await measureStreaming(env, options.streamCount);
    }
    if (options.coalesce > 0) {
      phase(`coalescing: ${options.coalesce} identical concurrent misses`);
      coalescing = await measureCoalescing(env, options.coalesce);
    }

    const subjectResults: SubjectResult[] = subjects.map((s) => {
      const e = results.get(s.id)!;
      const modeResults: Partial<Record<ModeName, ModeResult>> = {};
      if (e.available) {
        for (const m of modes)
          modeResults[m.name] = { summary: summarize(e.samples[m.name], e.seconds[m.name]), statuses: e.statuses[m.name], unexpected: e.bad[m.name] };
      }
      return {
        id: s.id,
        label: s.label,
        group: s.group,
        available: e.available,
        ...(e.reason ? { reason: e.reason } : {}),
        ...(e.note ? { note: e.note } : {}),
        modes: modeResults,
      };
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
      worker,
      adapters,
      runSeconds: Math.round((performance.now() - started) / 1000),
    };
  } finally {
    await env.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}
