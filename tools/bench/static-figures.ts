/**
 * Figures that need no load: the Worker's size as `wrangler deploy` uploads it (raw and gzip, plus a
 * minified build for reference), and each Lambda adapter's bundle size and cold module-init time,
 * measured by backend/scripts/measure-bundles.ts (the NodejsFunction-like esbuild bundle, `require`d
 * in fresh node processes).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../stack/stack';
import { buildWorker, type WorkerBundle } from '../stack/edge-bundle';

export interface WorkerSize {
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly minifiedBytes: number;
  readonly minifiedGzipBytes: number;
}

export interface AdapterFigure {
  readonly adapter: string;
  /** `bundled` (everything) or `sdk-external` (`@aws-sdk/*` from the Lambda runtime). */
  readonly variant: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly initMsMedian: number;
  readonly initMsMin: number;
  readonly initMsMax: number;
  readonly largestPackages: Array<[string, number]>;
}

/** The deployed bundle's size, and the same Worker built with `--minify`. */
export async function workerSize(bundle: WorkerBundle, scratchDir: string): Promise<WorkerSize> {
  const minified = await buildWorker(join(scratchDir, 'worker-min'), { minify: true });
  return { bytes: bundle.bytes, gzipBytes: bundle.gzipBytes, minifiedBytes: minified.bytes, minifiedGzipBytes: minified.gzipBytes };
}

/** Runs measure-bundles.ts with `--json`; `runs` cold inits per adapter and variant. */
export async function adapterFigures(runs: number): Promise<AdapterFigure[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'backend/scripts/measure-bundles.ts'), '--json', '--runs', String(runs)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (b: Buffer) => out.push(b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => err.push(b.toString('utf8')));
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`measure-bundles.ts failed (exit ${code}): ${err.join('').slice(-1000)}`);
  return (JSON.parse(out.join('')) as { results: AdapterFigure[] }).results;
}
