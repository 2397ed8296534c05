/**
 * The edge's store: Upstash Redis over REST (a real Upstash database in the cloud, the local bridge
 * in front of redis-server on one machine). Typed as narrowly as the edge uses it.
 */
import { Redis } from '@upstash/redis/cloudflare';

/** The Redis commands the edge needs. */
export type Store = Pick<Redis, 'get' | 'ping' | 'set' | 'del' | 'eval' | 'hset' | 'hget' | 'hgetall' | 'hdel' | 'evalsha' | 'getex'>;

// One client per isolate and store: the client is stateless apart from its keep-alive fetches.
const clients = new Map<string, Redis>();

/** The memoised client for this config's store. */
export function storeFor(config: { readonly store: { readonly url: string; readonly token: string } }): Store {
  const id = `${config.store.url}\n${config.store.token}`;
  let client = clients.get(id);
  if (!client) {
    client = new Redis({ url: config.store.url, token: config.store.token, enableTelemetry: false, retry: { retries: 1, backoff: () => 50 } });
    clients.set(id, client);
  }
  return client;
}
