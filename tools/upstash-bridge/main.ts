/**
 * CLI entry of the Upstash REST bridge: `UPSTASH_BRIDGE_TOKEN=t tsx tools/upstash-bridge/main.ts`.
 * Environment: UPSTASH_BRIDGE_TOKEN (required), UPSTASH_BRIDGE_PORT (default 8079), REDIS_URL
 * (default: the Redis on 127.0.0.1:6379, else a spawned redis-server). Prints one line with its
 * URL and stops cleanly on SIGINT/SIGTERM.
 */
import { ensureRedis } from '../redis/ensure-redis';
import { startUpstashBridge } from './server';

const DEFAULT_PORT = 8079;

function fail(message: string): never {
  process.stderr.write(`upstash-bridge: ${message}\n`);
  process.exit(1);
}

function portFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`UPSTASH_BRIDGE_PORT must be an integer in 0..65535, got "${value}"`);
  return port;
}

async function main(): Promise<void> {
  const token = process.env.UPSTASH_BRIDGE_TOKEN;
  if (!token) fail('UPSTASH_BRIDGE_TOKEN is required: the token clients send as "Authorization: Bearer <token>"');
  const port = portFromEnv(process.env.UPSTASH_BRIDGE_PORT);
  const redis = await ensureRedis();
  const bridge = await startUpstashBridge({
    redisUrl: redis.url,
    token,
    port,
    log: (line) => process.stderr.write(`${line}\n`),
  }).catch(async (err: unknown) => {
    await redis.stop();
    throw err;
  });
  process.stdout.write(`upstash-bridge listening on ${bridge.url} (redis ${redis.url})\n`);

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`upstash-bridge: ${signal}, stopping\n`);
    void bridge
      .close()
      .then(() => redis.stop())
      .then(
        () => process.exit(0),
        (err: unknown) => fail(`error while stopping: ${(err as Error).message}`),
      );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => fail((err as Error).message));
