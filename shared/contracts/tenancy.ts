/**
 * Tenants and API keys as stored in Redis (Upstash) and read by the edge and the operator CLI.
 * Keys are never stored: only the SHA-256 of the whole key string, under `gw:key:<hash>`.
 *
 * Layout:
 *   gw:tenants                    set of tenant ids
 *   gw:tenant:<tenantId>          TenantRecord (JSON)
 *   gw:tenant:<tenantId>:keys     set of key hashes of this tenant
 *   gw:key:<sha256 hex>           ApiKeyRecord (JSON)
 *   gw:keyid:<keyId>              the key's SHA-256 hex (lets operators address a key by its id)
 */
import * as z from 'zod';
import { PLANS, TenantOverridesSchema } from '../plans';

export { PLANS, type Plan } from '../plans';

export const SCOPES = ['infer', 'jobs', 'webhooks:ingest', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Readable prefixes of API keys: live keys for production traffic, test keys for everything else. */
export const KEY_PREFIXES = { live: 'gw_live_', test: 'gw_test_' } as const;
export type KeyMode = keyof typeof KEY_PREFIXES;

/** A key is its prefix followed by 43 base64url characters (256 bits of entropy). */
export const API_KEY_PATTERN = /^gw_(live|test)_[A-Za-z0-9_-]{43}$/;

export const TENANT_ID_PATTERN = /^[a-z][a-z0-9_-]{2,63}$/;

export const ApiKeyRecordSchema = z.object({
  tenantId: z.string().regex(TENANT_ID_PATTERN),
  keyId: z.string().min(1).max(64),
  /** Operator's label for the key (e.g. "ci", "prod-eu"). */
  name: z.string().max(64).optional(),
  scopes: z.array(z.enum(SCOPES)).min(1),
  status: z.enum(['active', 'revoked']),
  createdAt: z.number().int(),
  expiresAt: z.number().int().optional(),
  revokedAt: z.number().int().optional(),
});

export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

export const TenantRecordSchema = z.object({
  tenantId: z.string().regex(TENANT_ID_PATTERN),
  name: z.string().min(1).max(128),
  plan: z.enum(PLANS),
  status: z.enum(['active', 'suspended']).default('active'),
  overrides: TenantOverridesSchema.default({}),
  /** Where async job results are delivered (https only; checked against SSRF at delivery). */
  callbackUrl: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Standard Webhooks secrets (`whsec_<base64>`) that sign deliveries to `callbackUrl`, newest first;
   * two during a rotation (every delivery is signed with each). Written by `gw tenant webhook-secret`.
   */
  webhookSecrets: z
    .array(z.string().regex(/^whsec_[A-Za-z0-9+/]{22,}={0,2}$/))
    .max(2)
    .optional(),
  createdAt: z.number().int(),
});

export type TenantRecord = z.infer<typeof TenantRecordSchema>;

/** Redis key layout shared by the edge and the operator tooling. */
export const storeKeys = {
  apiKey: (keyHash: string) => `gw:key:${keyHash}`,
  /** Index from a key's public id to its hash, written by the operator tooling. */
  apiKeyId: (keyId: string) => `gw:keyid:${keyId}`,
  tenant: (tenantId: string) => `gw:tenant:${tenantId}`,
  tenantKeys: (tenantId: string) => `gw:tenant:${tenantId}:keys`,
  tenants: () => 'gw:tenants',
} as const;
