/**
 * `npm start` as a user meets it: the launcher prints a curl that returns model output through every
 * component, writes stack.json, and Ctrl-C leaves nothing running. A component that cannot start is
 * named, the others are stopped, and the exit code is non-zero.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, isListening } from '../../tools/lib/net';
import { REPO_ROOT } from '../../tools/stack/stack';

const run = promisify(execFile);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface Prepared {
  readonly ports: Record<string, number>;
  readonly stateDir: string;
}

interface Launched extends Prepared {
  readonly proc: ChildProcess;
  readonly output: () => string;
  readonly exit: Promise<number | null>;
}

/**
 * A private state dir and three free ports for one launcher run. The Lambda host's two ports are left
 * to the stack (0): it probes them and retries on new ones if another process takes one in between,
 * which a fixed pair from here could not (other test files pick free ports at the same time).
 */
async function prepare(): Promise<Prepared> {
  const stateDir = await mkdtemp(join(tmpdir(), 'gw-start-'));
  cleanups.push(() => rm(stateDir, { recursive: true, force: true }));
  const ports = {
    GATEWAY_PORT: await freePort(),
    UPSTASH_BRIDGE_PORT: await freePort(),
    MODEL_SERVER_PORT: await freePort(),
    LAMBDA_HOST_PORT: 0,
  };
  return { ports, stateDir };
}

/** Runs `npm start`'s entry (the same file `npm start` runs, without npm in between). */
function launch(prepared: Prepared): Launched {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'tools/stack/cli.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, STACK_STATE_DIR: prepared.stateDir, ...Object.fromEntries(Object.entries(prepared.ports).map(([k, v]) => [k, String(v)])) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  cleanups.unshift(async () => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  });
  return { ...prepared, proc, output: () => output, exit };
}

/** Every port the launcher run listened on, by name: the ones given to it and the Lambda host's two, as it printed them. */
function portsUsed(launched: Launched): Record<string, number> {
  const { LAMBDA_HOST_PORT: _chosenByTheStack, ...given } = launched.ports;
  const line = /✓ lambda-host +http:\/\/127\.0\.0\.1:(\d+) .*http:\/\/127\.0\.0\.1:(\d+)/.exec(launched.output());
  expect(line, launched.output()).not.toBeNull();
  return { ...given, 'lambda-host sagemaker': Number(line![1]), 'lambda-host ecs': Number(line![2]) };
}

async function expectNotListening(ports: Record<string, number>): Promise<void> {
  for (const [name, port] of Object.entries(ports)) expect(await isListening(port), `${name} (${port})`).toBe(false);
}

async function waitFor(launched: Launched, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!launched.output().includes(text)) {
    if (launched.proc.exitCode !== null) throw new Error(`launcher exited early:\n${launched.output()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for '${text}':\n${launched.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Processes whose command line mentions `needle` (the state dir is in every child's arguments). */
async function processesMentioning(needle: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid,stat,args']);
  return stdout.split('\n').filter((l) => l.includes(needle) && !/\sZ/.test(l) && !l.includes('ps -eo'));
}

describe('npm start', () => {
  it('prints a working curl, writes stack.json, and Ctrl-C stops every component', async () => {
    const launched = launch(await prepare());
    await waitFor(launched, 'Press Ctrl-C', 120_000);
    const out = launched.output();
    for (const component of ['redis', 'upstash-bridge', 'model-server', 'lambda-host', 'edge', 'seed']) expect(out).toContain(`✓ ${component}`);

    const curl = /curl -sS [\s\S]*?-d '[^']*'/.exec(out)?.[0];
    expect(curl, out).toBeDefined();
    const { stdout } = await run('bash', ['-c', curl!.replaceAll('\\\n', ' ')]);
    const answer = JSON.parse(stdout);
    expect(answer.output.length).toBeGreaterThan(0);
    expect(answer.usage.completion_tokens).toBe(24);

    const info = JSON.parse(await readFile(join(launched.stateDir, 'stack.json'), 'utf8'));
    expect(info.gatewayUrl).toBe(`http://127.0.0.1:${launched.ports.GATEWAY_PORT}`);
    expect(out).toContain(info.apiKey);

    launched.proc.kill('SIGINT');
    expect(await launched.exit).toBe(0);
    await expectNotListening(portsUsed(launched));
    expect(await processesMentioning(launched.stateDir)).toEqual([]);
  }, 180_000);

  it('names a component whose port is taken, stops those already started and exits non-zero', async () => {
    const prepared = await prepare();
    const blocker: Server = createServer().listen(prepared.ports.GATEWAY_PORT, '127.0.0.1');
    cleanups.push(() => new Promise((r) => blocker.close(() => r())));
    await new Promise((r) => blocker.once('listening', r));

    const failing = launch(prepared);
    expect(await failing.exit).toBe(1);
    expect(failing.output()).toMatch(/edge failed to start: .*port \d+ is already in use \(set GATEWAY_PORT/);
    // Everything before the edge had started (and said so) and has been stopped again.
    for (const component of ['redis', 'upstash-bridge', 'model-server', 'lambda-host']) expect(failing.output()).toContain(`✓ ${component}`);
    // The gateway's port is the blocker's.
    const { GATEWAY_PORT: _blocked, ...started } = portsUsed(failing);
    await expectNotListening(started);
    expect(await processesMentioning(prepared.stateDir)).toEqual([]);
  }, 60_000);
});
