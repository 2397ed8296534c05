/**
 * Bundle size and cold module-init time of each Lambda adapter, bundled the way CDK's
 * NodejsFunction bundles it (bundling.ts: esbuild, CommonJS, platform node, target node22, minified,
 * ES module builds first), in two
 * variants: everything bundled, and `@aws-sdk/*` left external (NodejsFunction's default for Node 18+
 * runtimes, which ship AWS SDK v3). Init time = `require()` of the bundle in a fresh `node` process
 * (the work Lambda's INIT phase does for our code), median of several runs; the `awslambda` global is
 * stubbed and the config comes from a valid local environment, as in Lambda (AWS_EXECUTION_ENV set,
 * so the Tracer is on and instruments http/fetch as it would with active tracing).
 *
 *   npx tsx backend/scripts/measure-bundles.ts [--runs 9] [--json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Metafile } from 'esbuild';
import { bundleAdapter } from './bundling';

const REPO = resolve(import.meta.dirname, '../..');

/** The adapters and the environment their cold start needs. */
const ADAPTERS = {
  sagemaker: {
    entry: 'backend/handlers/sagemaker.ts',
    env: { SAGEMAKER_MODELS: JSON.stringify({ llama: { endpointName: 'llama-ep', format: 'tgi' } }) },
  },
  ecs: {
    entry: 'backend/handlers/ecs.ts',
    env: { ECS_BASE_URL: 'http://alb.internal/v1', ECS_MODELS: JSON.stringify({ llama: { format: 'openai-chat' } }) },
  },
} as const;

const VARIANTS = {
  bundled: [] as string[],
  'sdk-external': ['@aws-sdk/*'],
} as const;

/** Loads a bundle with the runtime's `awslambda` global stubbed and prints how long `require` took. */
const HARNESS = `
const { performance } = require('node:perf_hooks');
globalThis.awslambda = { streamifyResponse: (h) => h, HttpResponseStream: { from: (s) => s } };
const started = performance.now();
require(process.argv[2]);
process.stdout.write(JSON.stringify({ initMs: performance.now() - started }));
`;

interface Measurement {
  adapter: string;
  variant: string;
  bytes: number;
  gzipBytes: number;
  initMsMedian: number;
  initMsMin: number;
  initMsMax: number;
  largestPackages: Array<[string, number]>;
}

function packageOf(path: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return match?.[1] ?? '(project)';
}

/** Input bytes in the output, summed per npm package, largest first. */
function largestPackages(metafile: Metafile, top = 5): Array<[string, number]> {
  const sizes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) sizes.set(packageOf(path), (sizes.get(packageOf(path)) ?? 0) + bytesInOutput);
  }
  return [...sizes].sort((a, b) => b[1] - a[1]).slice(0, top);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function initTimes(bundle: string, harness: string, env: Record<string, string>, runs: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const result = spawnSync(process.execPath, [harness, bundle], {
      env: {
        PATH: process.env['PATH'] ?? '',
        NODE_PATH: join(REPO, 'node_modules'),
        AWS_REGION: 'us-east-1',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        POWERTOOLS_LOG_LEVEL: 'WARN',
        ...env,
      },
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`init of ${bundle} failed: ${result.stderr}`);
    times.push((JSON.parse(result.stdout) as { initMs: number }).initMs);
  }
  return times;
}

async function measure(runs: number): Promise<Measurement[]> {
  const dir = mkdtempSync(join(tmpdir(), 'adapter-bundles-'));
  const harness = join(dir, 'harness.cjs');
  writeFileSync(harness, HARNESS);
  const out: Measurement[] = [];
  try {
    for (const [adapter, { entry, env }] of Object.entries(ADAPTERS)) {
      for (const [variant, external] of Object.entries(VARIANTS)) {
        const outfile = join(dir, `${adapter}-${variant}.cjs`);
        const metafile = await bundleAdapter(join(REPO, entry), outfile, external);
        const bytes = Object.values(metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
        const code = (await import('node:fs')).readFileSync(outfile);
        const times = initTimes(outfile, harness, env, runs);
        out.push({
          adapter,
          variant,
          bytes,
          gzipBytes: gzipSync(code).length,
          initMsMedian: median(times),
          initMsMin: Math.min(...times),
          initMsMax: Math.max(...times),
          largestPackages: largestPackages(metafile),
        });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 9;
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs needs a positive integer');
  const results = await measure(runs);
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ node: process.version, runs, results }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`Adapter bundles (esbuild, cjs, node22, minified); cold init = require() in a fresh node ${process.version}, median of ${runs}\n\n`);
  process.stdout.write('adapter    variant        size      gzip     init median (min–max)\n');
  for (const r of results) {
    process.stdout.write(
      `${r.adapter.padEnd(10)} ${r.variant.padEnd(14)} ${kib(r.bytes).padStart(8)} ${kib(r.gzipBytes).padStart(8)}   ${r.initMsMedian.toFixed(0).padStart(4)} ms (${r.initMsMin.toFixed(0)}–${r.initMsMax.toFixed(0)})\n`,
    );
  }
  process.stdout.write('\nLargest packages in each bundle:\n');
  for (const r of results) process.stdout.write(`  ${r.adapter}/${r.variant}: ${r.largestPackages.map(([p, b]) => `${p} ${kib(b)}`).join(', ')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
