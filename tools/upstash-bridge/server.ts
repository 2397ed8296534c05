/**
 * The Upstash REST bridge: an HTTP server speaking the Upstash Redis REST protocol in front of a
 * real Redis, so `@upstash/redis` and `@upstash/ratelimit` run unchanged locally and in tests
 * (also from workerd through `@upstash/redis/cloudflare`).
 *
 * ```ts
 * const bridge = await startUpstashBridge({ redisUrl: 'redis://127.0.0.1:6379', token: 't' });
 * const redis = new Redis({ url: bridge.url, token: 't' });
 * ```
 */
import { createServer, type Server } from 'node:http';
import { Redis } from 'ioredis';
import { tokenChecker } from './auth';
import { CommandRunner } from './executor';
import { FaultKnobs, type FaultConfig, type FaultConfigPatch, parseFaultPatch } from './faults';
import { createRequestHandler } from './handler';
import { ScriptRegistry } from './scripts';
import { StatsRecorder, type BridgeStats } from './stats';
import { listen } from '../lib/net';

export type { BridgeStats } from './stats';
export type { FaultConfig, FaultConfigPatch } from './faults';

/** Options of {@link startUpstashBridge}. */
export interface UpstashBridgeOptions {
  /** The Redis to front, e.g. `redis://127.0.0.1:6379` (a `/n` path selects database n). */
  redisUrl: string;
  /** The token clients must present (`Authorization: Bearer <token>` or `?_token=`). */
  token: string;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; 0 picks a free one. Default 0. */
  port?: number;
  /** Redis logical database index; overrides the URL's. Default: the URL's, else 0. */
  db?: number;
  /** Largest accepted request body in bytes. Default 10 MiB. */
  maxBodyBytes?: number;
  /** Receives one line per server-side failure (5xx). Default: silent. */
  log?: (line: string) => void;
}

/** A running bridge. */
export interface UpstashBridge {
  /** Base URL for clients, e.g. `http://127.0.0.1:8079`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Counters since start or the last {@link resetStats} (also at `GET /_bridge/stats`). */
  stats(): BridgeStats;
  /** Sets the counters to zero (also `DELETE /_bridge/stats`). */
  resetStats(): void;
  /** The fault knobs in effect (also `GET /admin/config`). */
  faults(): FaultConfig;
  /** Validates and applies a partial update of the fault knobs (also `PUT /admin/config`); throws on a bad value. */
  setFaults(patch: FaultConfigPatch): FaultConfig;
  /** Stops listening, closes open connections and the Redis connection. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Connects to Redis, then listens; rejects if Redis cannot be reached or the port is taken. */
export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  validate(options, maxBodyBytes);
  const checkToken = tokenChecker(options.token);
  const log = options.log ?? (() => {});
  const redis = await connectRedis(options, log);
  const stats = new StatsRecorder();
  const faults = new FaultKnobs();
  const runner = new CommandRunner(redis, new ScriptRegistry(), stats);
  const server = createServer(createRequestHandler({ runner, stats, faults, checkToken, maxBodyBytes, log }));
  let port: number;
  try {
    port = await listen(server, options.port ?? 0, host);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    faults: () => faults.config,
    setFaults: (patch) => faults.update(parseFaultPatch(patch)),
    close: () => {
      if (!closing) {
        faults.close();
        closing = closeAll(server, redis);
      }
      return closing;
    },
  };
}

function validate(options: UpstashBridgeOptions, maxBodyBytes: number): void {
  if (!options.token) throw new Error('startUpstashBridge: token must be a non-empty string');
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65535)) {
    throw new Error(`startUpstashBridge: port must be an integer in 0..65535, got ${options.port}`);
  }
  if (options.db !== undefined && !(Number.isInteger(options.db) && options.db >= 0)) {
    throw new Error(`startUpstashBridge: db must be a non-negative integer, got ${options.db}`);
  }
  if (!(Number.isInteger(maxBodyBytes) && maxBodyBytes > 0)) {
    throw new Error(`startUpstashBridge: maxBodyBytes must be a positive integer, got ${maxBodyBytes}`);
  }
}

async function connectRedis(options: UpstashBridgeOptions, log: (line: string) => void): Promise<Redis> {
  const redis = new Redis(options.redisUrl, {
    ...(options.db !== undefined ? { db: options.db } : {}),
    lazyConnect: true,
    connectionName: 'upstash-bridge',
    // Integer replies as digit strings: the JSON keeps every digit, and they stay apart from bulk strings.
    stringNumbers: true,
    // Fail a request after one reconnect attempt instead of queueing it for long; never replay a
    // half-sent MULTI group on a new connection.
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(times * 100, 2_000),
  });
  // Without a listener ioredis would crash the process on a connection error; requests report them too.
  redis.on('error', (err: Error) => log(`upstash-bridge: redis connection error: ${err.message}`));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`upstash-bridge: cannot connect to Redis at ${options.redisUrl}: ${(err as Error).message}`, { cause: err });
  }
  return redis;
}

async function closeAll(server: Server, redis: Redis): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
