/**
 * Test support for the tenancy tools and the CLI: tenant records live under fixed `gw:` names, not
 * under a test prefix, so tests use tenant ids unique to the run and remove exactly what those
 * tenants own (records, key records, key-id index entries, set memberships) afterwards.
 */
import { randomUUID } from 'node:crypto';
import type { Redis as IORedis } from 'ioredis';
import { storeKeys } from '../../shared/contracts/tenancy';

/** Tenant ids for one test file, and their cleanup. */
export interface TestTenants {
  /** A fresh tenant id (tracked for cleanup), e.g. `t-cli-3f2a9c…`. */
  id(label?: string): string;
  /** Tracks an id the code under test generated. */
  track(tenantId: string): void;
  /** Deletes everything the tracked tenants own. */
  cleanup(): Promise<void>;
}

/** Tracks tenant ids and removes their data through a direct Redis connection. */
export function testTenants(direct: IORedis): TestTenants {
  const ids = new Set<string>();
  return {
    id(label = 'x') {
      const id = `t-${label}-${randomUUID().replaceAll('-', '').slice(0, 16)}`;
      ids.add(id);
      return id;
    },
    track(tenantId) {
      ids.add(tenantId);
    },
    async cleanup() {
      for (const tenantId of ids) {
        const hashes = await direct.smembers(storeKeys.tenantKeys(tenantId));
        for (const hash of hashes) {
          const raw = await direct.get(storeKeys.apiKey(hash));
          const keyId = raw ? (JSON.parse(raw) as { keyId?: unknown }).keyId : undefined;
          if (typeof keyId === 'string') await direct.del(storeKeys.apiKeyId(keyId));
          await direct.del(storeKeys.apiKey(hash));
        }
        await direct.del(storeKeys.tenantKeys(tenantId), storeKeys.tenant(tenantId));
        await direct.srem(storeKeys.tenants(), tenantId);
      }
      ids.clear();
    },
  };
}
