/**
 * `npm run bench`: runs the bench (tools/bench/run.ts), prints a progress line per phase and the
 * markdown tables, and writes `bench/results/latest.{json,md}`. Findings about where the time goes
 * can be kept in `bench/findings.md` (one `- ` bullet each); they are copied into the results.
 *
 *   npx tsx tools/bench/main.ts [--rounds 3] [--duration 2] [--subjects direct,peer,miss] [--location-rounds 3] [--out bench/results] [--quick]
 *   npx tsx tools/bench/main.ts --render   # rewrite latest.md/json from latest.json with the current findings
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../stack/stack';
import { autoFindings } from './goals';
import { buildReport, toMarkdown, writeReport } from './report';
import { DEFAULT_OPTIONS, runBench, type BenchOptions, type RawResults } from './run';
import { SUBJECT_IDS, type SubjectId } from './subjects';

/** Parses the command line into options and the output directory. */
export function parseArgs(argv: readonly string[]): { options: BenchOptions; outDir: string; render: boolean } {
  let options: BenchOptions = DEFAULT_OPTIONS;
  let render = false;
  let outDir = join(REPO_ROOT, 'bench/results');
  const num = (flag: string, raw: string | undefined) => {
    const v = Number(raw);
    if (raw === undefined || !Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a non-negative number`);
    return v;
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    switch (flag) {
      case '--render':
        render = true;
        continue;
      case '--quick':
        options = {
          ...options,
          rounds: 1,
          durationSec: 1,
          warmupSec: 0.5,
          streamCount: 5,
          coalesce: 20,
          roundTripCount: 3,
          adapterInitRuns: 1,
          scenarioRounds: 1,
          npmStartRounds: 1,
          storeCommandSeconds: 1,
          coalescedStreamTrials: 1,
          locationRounds: 1,
          minifiedWorker: false,
        };
        continue;
      case '--rounds':
        options = { ...options, rounds: Math.max(1, Math.round(num(flag, value))) };
        break;
      case '--duration':
        options = { ...options, durationSec: num(flag, value) };
        break;
      case '--rate':
        options = { ...options, fixedRate: num(flag, value) };
        break;
      case '--location-rounds':
        options = { ...options, locationRounds: Math.max(1, Math.round(num(flag, value))) };
        break;
      case '--connections':
        options = { ...options, saturationConnections: Math.max(1, Math.round(num(flag, value))) };
        break;
      case '--subjects': {
        const ids = (value ?? '').split(',').filter(Boolean);
        const unknown = ids.filter((id) => !(SUBJECT_IDS as readonly string[]).includes(id));
        if (ids.length === 0 || unknown.length) throw new Error(`--subjects takes a comma-separated list of ${SUBJECT_IDS.join(', ')}`);
        options = { ...options, subjects: ids as SubjectId[] };
        break;
      }
      case '--out':
        if (!value) throw new Error('--out needs a directory');
        outDir = resolve(value);
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
    i += 1;
  }
  return { options, outDir, render };
}

async function readFindings(): Promise<string[]> {
  try {
    const text = await readFile(join(REPO_ROOT, 'bench/findings.md'), 'utf8');
    return text
      .split('\n')
      .filter((l) => l.startsWith('- '))
      .map((l) => l.slice(2).trim());
  } catch {
    return [];
  }
}

async function main(): Promise<void> {
  const { options, outDir, render } = parseArgs(process.argv.slice(2));
  const raw: RawResults = render
    ? (JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as RawResults)
    : await runBench(options, (line) => process.stdout.write(`${line}\n`));
  const report = buildReport(raw, [...autoFindings(raw), ...(await readFindings())]);
  const paths = await writeReport(report, outDir);
  process.stdout.write(`\n${toMarkdown(report)}\nWrote ${paths.markdown} and ${paths.json} (${raw.runSeconds} s).\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
