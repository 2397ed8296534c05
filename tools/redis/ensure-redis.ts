/**
 * Finds a Redis server for the local stack and the tests: reuse the one on REDIS_URL or
 * 127.0.0.1:6379 when it answers PING, else spawn `redis-server` on a free port with persistence off.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../lib/net';

export interface RedisHandle {
  readonly host: string;
  readonly port: number;
  /** `redis://host:port` */
  readonly url: string;
  /** True when this process spawned the server (and {@link stop} will stop it). */
  readonly spawned: boolean;
  stop(): Promise<void>;
}

/** Raised when no Redis is reachable and `redis-server` cannot be started. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

const INSTALL_HINT = 'install it with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)';

/** Sends a RESP PING and resolves true on `+PONG` within `timeoutMs`. */
export function pingRedis(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function parseRedisUrl(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  if (parsed.protocol !== 'redis:') throw new RedisUnavailableError(`REDIS_URL must be redis://host:port, got ${parsed.protocol}`);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) };
}

export interface EnsureRedisOptions {
  /** A server to reuse; defaults to $REDIS_URL, then redis://127.0.0.1:6379. */
  readonly url?: string;
  /** Never reuse a running server; always spawn a private one. Default false. */
  readonly spawnOnly?: boolean;
  /** Name or path of the binary. Default `redis-server`. */
  readonly binary?: string;
}

/** Returns a reachable Redis: an existing one when it answers, else a freshly spawned private server. */
export async function ensureRedis(options: EnsureRedisOptions = {}): Promise<RedisHandle> {
  if (!options.spawnOnly) {
    const { host, port } = parseRedisUrl(options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    if (await pingRedis(port, host)) {
      return { host, port, url: `redis://${host}:${port}`, spawned: false, stop: async () => {} };
    }
    if (options.url ?? process.env.REDIS_URL) {
      throw new RedisUnavailableError(`no Redis answers at ${options.url ?? process.env.REDIS_URL}`);
    }
  }
  return spawnRedis(options.binary ?? 'redis-server');
}

async function spawnRedis(binary: string): Promise<RedisHandle> {
  const host = '127.0.0.1';
  const port = await freePort(host);
  const child: ChildProcess = spawn(
    binary,
    ['--port', String(port), '--bind', host, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--dir', '/tmp'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.ErrnoException | number | null>((resolve) => {
    child.once('error', (err) => resolve(err));
    child.once('exit', (code) => resolve(code));
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const outcome = await Promise.race([exited, new Promise((r) => setTimeout(r, 50, 'wait'))]);
    if (outcome !== 'wait') {
      const err = outcome as NodeJS.ErrnoException | number | null;
      if (typeof err === 'object' && err?.code === 'ENOENT') {
        throw new RedisUnavailableError(`redis-server was not found on PATH and no Redis answers on 127.0.0.1:6379; ${INSTALL_HINT}`);
      }
      throw new RedisUnavailableError(`redis-server exited on start (${String(err)}): ${stderr.trim().slice(0, 500)}`);
    }
    if (await pingRedis(port, host)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new RedisUnavailableError(`redis-server did not answer PING on ${host}:${port} within 10 s`);
    }
  }
  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    spawned: true,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
