/**
 * Test support for the bridge: a bridge on a free port in front of the shared Redis, a key prefix
 * unique to the test file (the shared Redis is never flushed), a direct ioredis connection to check
 * what really happened in Redis, and cleanup of the prefix's keys.
 */
import { randomUUID } from 'node:crypto';
import { Redis as UpstashRedis, type RedisConfigNodejs } from '@upstash/redis';
import { Redis as IORedis } from 'ioredis';
import { ensureRedis, type RedisHandle } from '../redis/ensure-redis';
import { startUpstashBridge, type UpstashBridge, type UpstashBridgeOptions } from './server';

/** A running bridge with its helpers. */
export interface TestBridge {
  readonly bridge: UpstashBridge;
  readonly token: string;
  /** Prefix of every key this test file may touch, e.g. `bridge-test:3f2a…:`. */
  readonly prefix: string;
  /** A direct connection to the same Redis, bypassing the bridge. */
  readonly direct: IORedis;
  /** `prefix + name`. */
  key(name: string): string;
  /** An @upstash/redis client on the bridge (no retries, so failures surface at once). */
  client(options?: Partial<RedisConfigNodejs>): UpstashRedis;
  /** `fetch` against the bridge with the token, unless `headers.authorization` says otherwise. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Deletes the prefix's keys and stops everything. */
  close(): Promise<void>;
}

/** Starts a bridge for a test file; call {@link TestBridge.close} in `afterAll`. */
export async function startTestBridge(options: Partial<UpstashBridgeOptions> = {}): Promise<TestBridge> {
  const redis: RedisHandle = await ensureRedis();
  const token = `test-token-${randomUUID()}`;
  const prefix = `bridge-test:${randomUUID()}:`;
  const bridge = await startUpstashBridge({ redisUrl: redis.url, token, ...options });
  const direct = new IORedis(redis.url, { lazyConnect: true, ...(options.db !== undefined ? { db: options.db } : {}) });
  await direct.connect();
  return {
    bridge,
    token,
    prefix,
    direct,
    key: (name) => `${prefix}${name}`,
    client: (config = {}) => new UpstashRedis({ url: bridge.url, token, retry: false, enableTelemetry: false, ...config }),
    fetch: (path, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      return fetch(`${bridge.url}${path}`, { ...init, headers });
    },
    close: async () => {
      try {
        let cursor = '0';
        do {
          const [next, keys] = await direct.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          if (keys.length > 0) await direct.del(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        direct.disconnect();
        await bridge.close();
        await redis.stop();
      }
    },
  };
}
