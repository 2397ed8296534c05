/**
 * The CLI entry: refuses to start without a token, prints its URL, serves, and exits 0 on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureRedis, type RedisHandle } from '../redis/ensure-redis';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

let redis: RedisHandle;

beforeAll(async () => {
  redis = await ensureRedis();
});

afterAll(async () => {
  await redis?.stop();
});

function runMain(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { ...process.env, REDIS_URL: redis.url, UPSTASH_BRIDGE_TOKEN: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const firstLine = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (stdout.includes('\n')) resolve(stdout.split('\n')[0] ?? '');
    });
    void exited.then((code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  firstLine.catch(() => {}); // awaited only by the tests that expect a start
  return { child, exited, firstLine, output: () => ({ stdout, stderr }) };
}

describe('main.ts', () => {
  it('exits 1 with a clear message when UPSTASH_BRIDGE_TOKEN is missing', async () => {
    const run = runMain({});
    expect(await run.exited).toBe(1);
    expect(run.output().stderr).toContain('UPSTASH_BRIDGE_TOKEN is required');
  });

  it('prints its URL, serves requests and stops cleanly on SIGTERM', async () => {
    const run = runMain({ UPSTASH_BRIDGE_TOKEN: 'cli-token', UPSTASH_BRIDGE_PORT: '0' });
    try {
      const line = await run.firstLine;
      const url = /listening on (http:\/\/\S+)/.exec(line)?.[1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${url}/ping`, { headers: { authorization: 'Bearer cli-token' } });
      expect(await res.json()).toEqual({ result: 'PONG' });
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
    } finally {
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
