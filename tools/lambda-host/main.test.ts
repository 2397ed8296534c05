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
