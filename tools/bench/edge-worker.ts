/**
 * The edge for the bench: the Worker built exactly as `wrangler deploy` builds it (a dry run into a
 * temporary directory, offline), then run by Miniflare's own workerd and measured on each worker's
 * direct socket — no `wrangler dev` proxy, no Miniflare entry worker in front. Two copies of the
 * same bundle run side by side: one with the Workers Cache API (L1) and one with it disabled, so an
 * L2 (Redis) hit can be measured without L1 answering first.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Log, LogLevel, Miniflare } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { REPO_ROOT, WRANGLER_OFFLINE_ENV } from '../stack/stack';

/** Size of a built Worker, as `wrangler deploy` would upload it. */
export interface WorkerBundle {
  readonly dir: string;
  readonly scriptPath: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly minified: boolean;
}

/** The Worker's Miniflare options as wrangler derives them from wrangler.toml (vars, queues, compat). */
export type WorkerSettings = ReturnType<typeof unstable_getMiniflareWorkerOptions>['workerOptions'];

/** Runs `wrangler deploy --dry-run --outdir dir` offline (top-level environment). */
export async function buildWorker(dir: string, options: { readonly minify?: boolean } = {}): Promise<WorkerBundle> {
  const args = [join(REPO_ROOT, 'node_modules/wrangler/wrangler-dist/cli.js'), 'deploy', '--dry-run', '--env=', '--outdir', dir];
  if (options.minify) args.push('--minify');
  const output: string[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...WRANGLER_OFFLINE_ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (b: Buffer) => output.push(b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => output.push(b.toString('utf8')));
    child.once('error', reject);
    child.once('exit', resolve);
  });
  const scriptPath = join(dir, 'index.js');
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (exit ${code}): ${output.join('').slice(-2000)}`);
  const content = await readFile(scriptPath);
  return { dir, scriptPath, bytes: content.length, gzipBytes: gzipSync(content).length, minified: options.minify === true };
}

/** Reads wrangler.toml's top-level environment the way `wrangler dev` and the vitest pool do. */
export function readWorkerSettings(): WorkerSettings {
  return unstable_getMiniflareWorkerOptions(join(REPO_ROOT, 'wrangler.toml')).workerOptions;
}

/** The edge running in workerd, one URL per copy. */
export interface EdgeWorkers {
  /** The Worker with the Workers Cache API (L1) on. */
  readonly url: string;
  /** The same Worker with the Cache API disabled (every cache lookup goes to L2). */
  readonly noL1Url: string;
  /** Empties the L1 cache of the first copy. */
  purgeL1(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts both copies of the bundle in one workerd, each on its own direct socket on a free port. */
export async function startEdgeWorkers(bundle: WorkerBundle, settings: WorkerSettings, bindings: Readonly<Record<string, string>>): Promise<EdgeWorkers> {
  const { queueConsumers, ...shared } = settings;
  const common = {
    ...shared,
    modules: true,
    scriptPath: bundle.scriptPath,
    modulesRoot: bundle.dir,
    bindings: { ...shared.bindings, ...bindings },
  };
  const mf = new Miniflare({
    host: '127.0.0.1',
    port: 0,
    log: new Log(LogLevel.WARN),
    // The worker logs a JSON line per request: drain it (the cost of logging stays in the measurement),
    // keep only what it writes to stderr.
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.resume();
      stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    },
    cachePersist: false,
    // The placeholder `request.cf`: the real one would be fetched from Cloudflare (no network here).
    cf: false,
    workers: [
      // Only the first copy consumes the queues (a queue has one consumer).
      { ...common, ...(queueConsumers ? { queueConsumers } : {}), name: 'edge', cache: true, unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] },
      { ...common, name: 'edge-no-l1', cache: false, unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }] },
    ],
  });
  try {
    await mf.ready;
    const url = (await mf.unsafeGetDirectURL('edge')).origin;
    const noL1Url = (await mf.unsafeGetDirectURL('edge-no-l1')).origin;
    return { url, noL1Url, purgeL1: () => mf.purgeCache(), stop: () => mf.dispose() };
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
}
