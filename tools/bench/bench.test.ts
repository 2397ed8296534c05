/**
 * Smoke test of the bench harness: the real environment (the stack npm start brings up, the peer,
 * the load generator) with tiny durations on four subjects (the miss beside its USAGE_LEDGER=off copy) and every scenario (store latency, edge
 * locations, `npm start` itself, embeddings batched vs unbatched), checking the shape of the results and the report, the bounds the
 * figures must keep whatever the machine, and that stopping leaves nothing listening. The full
 * bench is `npm run bench`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isListening } from '../lib/net';
import { parseArgs } from './main';
import { buildReport, toMarkdown, writeReport } from './report';
import { DEFAULT_OPTIONS, runBench, type BenchOptions } from './run';
import { usageCostPairs } from './usage-cost';

const TINY: BenchOptions = {
  ...DEFAULT_OPTIONS,
  subjects: ['direct', 'miss', 'blocked', 'miss-no-usage'],
  rounds: 1,
  durationSec: 0.5,
  warmupSec: 0,
  fixedRate: 50,
  saturationConnections: 4,
  streamCount: 2,
  coalesce: 5,
  roundTripCount: 2,
  adapterInitRuns: 0,
  storeLatencies: [0, 25],
  scenarioRounds: 1,
  locationRequests: 30,
  locationLimit: 5,
  locationRounds: 2,
  locationHoldMs: 500,
  embeddingsSaturationConnections: 8,
  npmStart: true,
  storeCommandSeconds: 0.5,
  coalescedStreams: 3,
  coalescedStreamTrials: 1,
  minifiedWorker: false,
};

describe('the bench harness', () => {
  it('parses its command line', () => {
    expect(parseArgs(['--rounds', '2', '--subjects', 'direct,miss']).options).toMatchObject({ rounds: 2, subjects: ['direct', 'miss'] });
    expect(parseArgs(['--location-rounds', '5']).options.locationRounds).toBe(5);
    expect(() => parseArgs(['--subjects', 'nope'])).toThrow(/--subjects/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown option/);
  });

  it('measures four subjects interleaved and writes the report', async () => {
    const lines: string[] = [];
    const raw = await runBench(TINY, (line) => lines.push(line));
    const report = buildReport(raw);

    expect(lines.some((l) => l.includes('round 1/1, fixed rate'))).toBe(true);
    expect(report.subjects.map((s) => s.id)).toEqual(['direct', 'miss', 'blocked', 'miss-no-usage']);
    const direct = report.subjects.find((s) => s.id === 'direct')!;
    const miss = report.subjects.find((s) => s.id === 'miss')!;
    expect(direct.available).toBe(true);
    expect(miss.available).toBe(true);
    for (const s of [direct, miss]) {
      for (const mode of ['fixed', 'saturation'] as const) {
        const m = s.modes[mode]!;
        expect(m.summary.count).toBeGreaterThan(0);
        expect(m.summary.p50).toBeLessThanOrEqual(m.summary.p99);
        expect(m.unexpected).toBe(0);
      }
    }
    const blocked = report.subjects.find((s) => s.id === 'blocked')!;
    // Either the 429 path is measured, or it says the feature is missing; never numbers without 429s.
    if (blocked.available) expect(Object.keys(blocked.modes.fixed!.statuses)).toEqual(['429']);
    else expect(blocked.reason).toMatch(/not available/);

    expect(report.comparisons.find((c) => c.subject === 'miss' && c.mode === 'fixed')?.addedP50).toEqual(expect.any(Number));
    expect(report.roundTrips.map((r) => r.subject)).toContain('miss');
    expect(report.streaming.find((s) => s.id === 'direct')!.ok).toBe(2);
    expect(report.worker.gzipBytes).toBeGreaterThan(0);
    expect(report.goals.map((g) => g.id)).toEqual(expect.arrayContaining(['miss-overhead', 'miss-round-trips', 'worker-size', 'coalescing']));
    expect(report.goals.filter((g) => g.group === 'hot-path').map((g) => g.id)).toEqual([
      'warm-hit-0',
      'warm-hit-25',
      'hit-throughput',
      'edge-share',
      'edge-cpu',
      'stream-ttft',
      'coalesced-ttft',
      'rate-limit-commands',
      'locations-requests',
      'locations-tokens',
      'npm-start',
      'usage-recording',
    ]);
    for (const g of report.goals) expect(['met', 'missed', 'not measured']).toContain(g.status);
    // Measured here whatever the machine: CPU from /proc, locations, npm start, store commands.
    for (const id of ['edge-cpu', 'locations-requests', 'locations-tokens', 'npm-start', 'rate-limit-commands'])
      expect(report.goals.find((g) => g.id === id)?.status, id).not.toBe('not measured');

    // STORE_LATENCY_MS: both runs measured, every subject answering as at 0 ms. No subject waits for
    // the store on its path any more (a miss's backend call starts beside its L2 read where its
    // isolate's lookups rarely hit), so no figure here proves the knob: tools/stack/scenarios.test.ts does.
    const [at0, at25] = report.storeLatency;
    expect([at0?.latencyMs, at25?.latencyMs]).toEqual([0, 25]);
    expect(at25!.subjects.miss!.statuses).toEqual({ '200': expect.any(Number) });
    expect(at25!.subjects.blocked!.statuses).toEqual({ '429': expect.any(Number) });
    // EDGE_LOCATIONS: every burst of each window, and never more than the limit, whatever the locations.
    expect(report.locations.map((l) => l.window)).toEqual(['requests per minute', 'requests per minute', 'tokens per minute', 'tokens per minute']);
    for (const l of report.locations) {
      expect(l.locations).toBe(3);
      expect(l.admitted).toBeLessThanOrEqual(l.limit);
      expect(l.admitted + l.refused).toBe(l.sent);
    }
    expect(report.npmStart?.available, report.npmStart?.reason).toBe(true);
    expect(Object.keys(report.npmStart!.subjects).sort()).toEqual(['blocked', 'hit', 'miss']);
    expect(report.cpu!.edgeCpuSeconds).toBeGreaterThan(0);
    // What recording costs: the miss beside the USAGE_LEDGER=off copy in both modes, its CPU metered too
    // (the hit pair is not in this smoke run, so the goal says what it needs).
    expect(usageCostPairs(report).map((p) => [p.path, p.mode])).toEqual([
      ['miss', 'fixed'],
      ['miss', 'saturation'],
    ]);
    expect(report.cpuNoUsage!.edgeCpuSeconds).toBeGreaterThan(0);
    expect(report.goals.find((g) => g.id === 'usage-recording')).toMatchObject({ status: 'not measured', measured: expect.stringMatching(/^miss /) });
    const steadyMiss = report.storeCommands!.steady.find((s) => s.subject === 'miss')!;
    expect(steadyMiss.admitted).toBeGreaterThan(0);
    // MONITOR sees what the bridge ran: the same commands, filed by purpose.
    expect(steadyMiss.monitoredCommands).toBe(steadyMiss.bridgeCommands);
    // One by one, every request says where its limits were decided; a warm tenant's misses, from its leases.
    const sequentialMiss = report.storeCommands!.criticalPath.find((c) => c.subject === 'miss')!;
    expect(Object.values(sequentialMiss.limitsFrom).reduce((a, b) => a + b, 0)).toBe(sequentialMiss.requests);
    expect(sequentialMiss.limitsFrom.lease).toBeGreaterThan(0);
    // Embeddings: both sides measured in both modes; the twin makes a call per request, the batcher fewer.
    const e = report.embeddings!;
    expect(e.available, e.reason).toBe(true);
    expect(e.flushMs).toBe(5);
    for (const side of [e.batched!, e.unbatched!])
      for (const m of [side.fixed, side.saturation]) {
        expect(m.summary.count).toBeGreaterThan(0);
        expect(m.unexpected).toBe(0);
      }
    expect(e.unbatched!.backendCallsPerRequest).toBeGreaterThanOrEqual(1);
    expect(e.batched!.backendCallsPerRequest).toBeLessThan(1);
    expect(report.goals.filter((g) => g.group === 'embeddings').map((g) => [g.id, g.status === 'not measured'])).toEqual([
      ['embeddings-batching-latency', false],
      ['embeddings-batching-throughput', false],
    ]);
    expect(report.streaming.map((s) => s.id)).toEqual(['direct', 'adapter', 'gateway', 'peer']);
    expect(report.streaming.find((s) => s.id === 'adapter')!.ok).toBe(2);
    console.warn(
      `bench smoke: miss p50 ${miss.modes.fixed!.summary.p50} ms vs direct ${direct.modes.fixed!.summary.p50} ms; goals ${report.goals.map((g) => `${g.id}=${g.status}`).join(', ')}`,
    );

    const dir = await mkdtemp(join(tmpdir(), 'gw-bench-test-'));
    try {
      const paths = await writeReport(report, dir);
      expect(JSON.parse(await readFile(paths.json, 'utf8'))).toMatchObject({ machine: { cores: expect.any(Number) }, goals: expect.any(Array) });
      const md = await readFile(paths.markdown, 'utf8');
      expect(md).toContain('## Goals: the hot path');
      expect(md).toContain('## Scenario STORE_LATENCY_MS');
      expect(md).toContain('## Scenario EDGE_LOCATIONS');
      expect(md).toContain('## Goals: embeddings batching');
      expect(md).toContain('## What usage recording costs');
      expect(md).toContain('## Embeddings: dynamic batching vs unbatched');
      expect(md).toContain(toMarkdown(report).split('\n')[0]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    // Everything it started is gone: the model server's port no longer accepts connections.
    const modelServerLine = lines.find((l) => l.includes('model-server')) ?? '';
    const modelServerPort = Number(new URL(/http:\/\/\S+/.exec(modelServerLine)?.[0] ?? 'http://x').port);
    expect(modelServerPort).toBeGreaterThan(0);
    expect(await isListening(modelServerPort)).toBe(false);
  }, 240_000);
});
