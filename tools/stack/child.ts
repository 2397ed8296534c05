/**
 * Child processes of the local stack: spawned in their own process group (so a stop reaches their
 * own children, e.g. wrangler's workerd), output forwarded line by line with the component's name,
 * and a stop that escalates from SIGTERM to SIGKILL. Also what every component's start shares: the
 * error naming the component, and the check that its port is free.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { freePort, isListening } from '../lib/net';

export interface ChildSpec {
  /** Component name for log prefixes and error messages. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Receives every output line. */
  readonly onLine?: (line: string) => void;
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** Resolves with a description when the process exits (by itself or by stop). */
  readonly exited: Promise<string>;
  /** Last output lines, for error messages. */
  tail(): string;
  stop(graceMs?: number): Promise<void>;
}

export class ComponentStartError extends Error {
  override readonly name = 'ComponentStartError';
  constructor(
    readonly component: string,
    message: string,
  ) {
    super(`${component}: ${message}`);
  }
}

/** `port`, or a free one for 0; a port in use fails naming the component and the variable that sets it. */
export async function resolvePort(component: string, port: number, envName: string): Promise<number> {
  if (port === 0) return freePort();
  if (await isListening(port)) throw new ComponentStartError(component, `port ${port} is already in use (set ${envName} to another port)`);
  return port;
}

export function spawnChild(spec: ChildSpec): Child {
  const proc: ChildProcess = spawn(spec.command, [...spec.args], {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines: string[] = [];
  const onLine = (line: string) => {
    lines.push(line);
    if (lines.length > 40) lines.shift();
    spec.onLine?.(line);
  };
  for (const stream of [proc.stdout, proc.stderr]) if (stream) createInterface({ input: stream }).on('line', onLine);
  const exited = new Promise<string>((resolve) => {
    proc.once('error', (err) => resolve(`failed to start: ${err.message}`));
    proc.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exited with code ${code}`));
  });
  let alive = true;
  void exited.then(() => (alive = false));
  const signalGroup = (signal: NodeJS.Signals) => {
    if (!proc.pid) return;
    try {
      process.kill(-proc.pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  return {
    name: spec.name,
    pid: proc.pid ?? -1,
    exited,
    tail: () => lines.slice(-12).join('\n'),
    async stop(graceMs = 3000) {
      if (!alive) {
        signalGroup('SIGKILL'); // reap grandchildren that outlived the leader
        return;
      }
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      signalGroup('SIGKILL');
    },
  };
}

/** Polls `probe` until it resolves true, the child exits, or `timeoutMs` passes. */
export async function waitUntilReady(child: Child, probe: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: string | undefined;
  void child.exited.then((how) => (exitedWith = how));
  for (;;) {
    if (exitedWith) throw new ComponentStartError(child.name, `${exitedWith} before it was ready\n${child.tail()}`);
    if (await probe()) return;
    if (Date.now() > deadline) throw new ComponentStartError(child.name, `${what} after ${timeoutMs} ms\n${child.tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True when `url` answers 2xx within a second. */
export async function answersOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
