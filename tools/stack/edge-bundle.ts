/**
 * The edge Worker exactly as `wrangler deploy` uploads it: a dry run into a directory (offline, no
 * account), and the Worker's settings as wrangler derives them from wrangler.toml (vars, queues,
 * compatibility). `npm start` serves this bundle; the bench reports its size.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { REPO_ROOT, WRANGLER_CLI, WRANGLER_OFFLINE_ENV } from './repo';

/** A built Worker and its size as `wrangler deploy` would upload it. */
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
  const args = [WRANGLER_CLI, 'deploy', '--dry-run', '--env=', '--outdir', dir];
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
