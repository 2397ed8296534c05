/**
 * What the usage ledger costs a request: the miss and the warm hit against the stack's edge (the
 * ledger on, as `npm start` runs it) beside the same requests to an otherwise identical copy with
 * `USAGE_LEDGER=off` (`edge-no-usage`, same bundle, same workerd, same Cache API and store), measured
 * in the same interleaved rounds. The difference of their p50s is what recording adds to the
 * request path (the record is built and queued from `waitUntil`, after the answer). The usage
 * queue's consumer runs inside the same workerd, so the edge CPU per request of the metered miss
 * saturation runs includes it (the consumer's batches land when they land: within the run or the next).
 */
import type { CpuAccount, ModeName, RawResults } from './run';
import { round } from './stats';

/** The most recording may add to the p50 of a miss and of a warm hit (ms). */
export const USAGE_COST_GOAL_MS = 0.5;

/** One path with the ledger on and off, in one mode. */
export interface UsageCostPair {
  readonly path: 'miss' | 'hit';
  readonly mode: ModeName;
  readonly onP50: number;
  readonly offP50: number;
  readonly onP95: number;
  readonly offP95: number;
  /** p50 on minus p50 off (ms): what recording costs; negative is noise. */
  readonly costP50: number;
}

const PATHS = [
  ['miss', 'miss', 'miss-no-usage'],
  ['hit', 'hit', 'hit-no-usage'],
] as const;

/** Every path and mode measured on both sides. */
export function usageCostPairs(results: RawResults): UsageCostPair[] {
  const summary = (id: string, m: ModeName) => results.subjects.find((s) => s.id === id && s.available)?.modes[m]?.summary;
  const pairs: UsageCostPair[] = [];
  for (const [path, on, off] of PATHS)
    for (const m of ['fixed', 'saturation'] as const) {
      const [a, b] = [summary(on, m), summary(off, m)];
      if (a && b) pairs.push({ path, mode: m, onP50: a.p50, offP50: b.p50, onP95: a.p95, offP95: b.p95, costP50: round(a.p50 - b.p50) });
    }
  return pairs;
}

/** The goal row: recording adds at most {@link USAGE_COST_GOAL_MS} to the miss and hit p50s at the fixed rate. */
export function usageCostGoalRow(results: RawResults): { id: string; goal: string; ok: boolean | null; measured: string } {
  const goal = `usage recording costs ≤ ${USAGE_COST_GOAL_MS} ms p50 on miss and hit (ledger on vs the USAGE_LEDGER=off copy, interleaved)`;
  const fixed = usageCostPairs(results).filter((p) => p.mode === 'fixed');
  const [miss, hit] = [fixed.find((p) => p.path === 'miss'), fixed.find((p) => p.path === 'hit')];
  const measured = fixed.map((p) => `${p.path} ${p.onP50} ms vs ${p.offP50} ms (${signed(p.costP50)} ms)`).join('; ');
  if (!miss || !hit)
    return { id: 'usage-recording', goal, ok: null, measured: measured || 'not measured: needs the miss, hit, miss-no-usage and hit-no-usage subjects' };
  const cpu = cpuCost(results.cpu, results.cpuNoUsage);
  return {
    id: 'usage-recording',
    goal,
    ok: miss.costP50 <= USAGE_COST_GOAL_MS && hit.costP50 <= USAGE_COST_GOAL_MS,
    measured: `${measured} at ${results.options.fixedRate} req/s${cpu === null ? '' : `; edge CPU ${signed(cpu)} ms per miss (consumer included)`}`,
  };
}

/** Edge CPU ms per miss with the ledger on minus off (the consumer's share included), when both were metered. */
function cpuCost(on: CpuAccount | null, off: CpuAccount | null): number | null {
  return on && off ? round(on.edgeCpuMsPerRequest - off.edgeCpuMsPerRequest) : null;
}

const signed = (v: number) => (v >= 0 ? `+${v}` : String(v));

/** The report's section: both sides, both modes, the difference; the CPU per miss. */
export function usageCostMarkdown(results: RawResults): string[] {
  const pairs = usageCostPairs(results);
  if (pairs.length === 0) return [];
  const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  const out = [
    '## What usage recording costs (the ledger on, as `npm start` runs it, vs the `USAGE_LEDGER=off` copy, interleaved)',
    '',
    row(['path', 'mode', 'p50 on', 'p50 off', 'p50 cost', 'p95 on', 'p95 off']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:']),
    ...pairs.map((p) => row([p.path, p.mode, p.onP50, p.offP50, signed(p.costP50), p.onP95, p.offP95])),
    '',
  ];
  const [on, off] = [results.cpu, results.cpuNoUsage];
  if (on && off)
    out.push(
      `Edge CPU per miss at saturation (workerd, every location and the usage queue's consumer): ${on.edgeCpuMsPerRequest} ms with the ledger on, ${off.edgeCpuMsPerRequest} ms off (${signed(cpuCost(on, off)!)} ms).`,
      '',
    );
  return out;
}
