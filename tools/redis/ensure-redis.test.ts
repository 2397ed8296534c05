import { describe, expect, it } from 'vitest';
import { ensureRedis, pingRedis, RedisUnavailableError } from './ensure-redis';
import { freePort } from '../lib/net';

describe('ensureRedis', () => {
  it('spawns a private redis-server on a free port when asked, and stops it', async () => {
    const redis = await ensureRedis({ spawnOnly: true });
    try {
      expect(redis.spawned).toBe(true);
      expect(await pingRedis(redis.port)).toBe(true);
    } finally {
      await redis.stop();
    }
    expect(await pingRedis(redis.port)).toBe(false);
  });

  it('names the install command when redis-server is missing', async () => {
    const err = await ensureRedis({ spawnOnly: true, binary: 'redis-server-that-does-not-exist' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/apt-get install redis-server/);
  });

  it('refuses an explicit URL where nothing answers instead of silently spawning', async () => {
    const port = await freePort();
    await expect(ensureRedis({ url: `redis://127.0.0.1:${port}` })).rejects.toThrow(/no Redis answers/);
  });

  it('reuses a running server without taking ownership of it', async () => {
    const own = await ensureRedis({ spawnOnly: true });
    try {
      const reused = await ensureRedis({ url: own.url });
      expect(reused).toMatchObject({ spawned: false, port: own.port });
      await reused.stop();
      expect(await pingRedis(own.port)).toBe(true);
    } finally {
      await own.stop();
    }
  });
});
