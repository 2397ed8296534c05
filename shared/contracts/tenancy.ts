/**
 * Tenants, plans and API keys as stored in Redis (Upstash) and read by the edge. Keys are never
 * stored: only the SHA-256 of the whole key string, under `gw:key:<hash>`.
 */
import { z } from 'zod';

export const PLANS = ['free', 'pro', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

export const SCOPES = ['infer', 'jobs', 'webhooks:ingest', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Readable prefixes of API keys: live keys for production traffic, test keys for everything else. */
export const KEY_PREFIXES = { live: 'gw_live_', test: 'gw_test_' } as const;
export type KeyMode = keyof typeof KEY_PREFIXES;

/** A key is its prefix followed by 43 base64url characters (256 bits of entropy). */
export const API_KEY_PATTERN = /^gw_(live|test)_[A-Za-z0-9_-]{43}$/;

export const ApiKeyRecordSchema = z.object({
  tenantId: z.string().min(1),
  keyId: z.string().min(1),
  plan: z.enum(PLANS),
  scopes: z.array(z.enum(SCOPES)),
  status: z.enum(['active', 'revoked']),
  createdAt: z.number().int(),
  expiresAt: z.number().int().optional(),
});

export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

export const TenantRecordSchema = z.object({
  tenantId: z.string().min(1),
  name: z.string().min(1),
  plan: z.enum(PLANS),
  createdAt: z.number().int(),
});

export type TenantRecord = z.infer<typeof TenantRecordSchema>;

/** Redis key layout shared by the edge and the operator tooling. */
export const storeKeys = {
  apiKey: (keyHash: string) => `gw:key:${keyHash}`,
  tenant: (tenantId: string) => `gw:tenant:${tenantId}`,
  tenantKeys: (tenantId: string) => `gw:tenant:${tenantId}:keys`,
  tenants: () => 'gw:tenants',
} as const;
