/** The CLI: config parsing and validation, and a real process that prints its URLs and stops on SIGTERM. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './main';

const ECHO = 'tools/lambda-host/fixtures/echo.ts';
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lambda-host-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadConfig', () => {
  it('reads the launcher format and adds credentials from the environment', () => {
    const config = JSON.stringify({
      region: 'eu-west-1',
      credentials: [{ accessKeyId: 'AK1', secretAccessKey: 's1' }],
      functions: [{ name: 'echo', module: ECHO, invokeMode: 'BUFFERED', timeoutMs: 5000, port: 0 }],
    });
    const options = loadConfig([config], { LAMBDA_HOST_ACCESS_KEY_ID: 'AK2', LAMBDA_HOST_SECRET_ACCESS_KEY: 's2', LAMBDA_HOST_REGION: 'us-east-1' });
    expect(options.region).toBe('us-east-1');
    expect(options.credentials.map((c) => c.accessKeyId)).toEqual(['AK1', 'AK2']);
    expect(options.functions[0]).toEqual({ name: 'echo', handler: { module: ECHO }, invokeMode: 'BUFFERED', timeoutMs: 5000, port: 0 });
  });

  it('explains what is wrong with a bad config', () => {
    expect(() => loadConfig([], {})).toThrow(/usage/);
    expect(() => loadConfig([JSON.stringify({ region: 'x', functions: [] })], {})).toThrow(/invalid lambda host config/);
    expect(() => loadConfig([JSON.stringify({ region: 'x', functions: [{ name: 'a', module: 'missing.ts' }] })], {})).toThrow(/not found/);
  });
});

describe('main.ts as a process', () => {
  it('prints one line per function URL, serves, and exits 0 on SIGTERM', async () => {
    const configPath = join(dir, 'host.json');
    await writeFile(configPath, JSON.stringify({ region: 'eu-west-1', functions: [{ name: 'public', module: ECHO, authType: 'NONE' }] }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'tools/lambda-host/main.ts', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
      });
      const match = /^public (http:\/\/127\.0\.0\.1:\d+\/)$/.exec(line);
      expect(match).not.toBeNull();
      const res = await fetch(`${match![1]}ping`);
      expect(res.status).toBe(200);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('main.ts orphaned', () => {
  it('stops by itself when the launcher that started it is killed', async () => {
    const config = join(dir, 'orphan.json');
    await writeFile(
      config,
      JSON.stringify({
        region: 'us-east-1',
        credentials: [{ accessKeyId: 'AKIAORPHAN', secretAccessKey: 's' }],
        functions: [{ name: 'echo', module: ECHO, invokeMode: 'BUFFERED', port: 0 }],
      }),
    );
    // A stand-in launcher: starts the host in its own process group, prints its pid, then waits.
    const script = `const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, ['--import', 'tsx', 'tools/lambda-host/main.ts', ${JSON.stringify(config)}], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
      c.stdout.once('data', () => console.log(c.pid));
      setInterval(() => {}, 1000);`;
    const launcher = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const hostPid = Number(await new Promise<string>((resolve) => createInterface({ input: launcher.stdout! }).once('line', resolve)));
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive(hostPid)).toBe(true);
    launcher.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while (alive(hostPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const stillAlive = alive(hostPid);
    if (stillAlive) process.kill(hostPid, 'SIGKILL');
    expect(stillAlive).toBe(false);
  }, 30_000);
});
