/**
 * API-key authentication: `Authorization: Bearer <key>` or `x-api-key`, looked up by SHA-256 in the
 * store, checked for status, expiry and the route's scope. Sets `auth` on the context.
 */
import type { MiddlewareHandler } from 'hono';
import { sha256Hex } from '../../shared/crypto/hash';
import { API_KEY_PATTERN, ApiKeyRecordSchema, storeKeys, type Plan, type Scope } from '../../shared/contracts/tenancy';
import { ApiError } from '../errors';
import type { Store } from '../services/store';
import type { Config } from '../env';

export interface AuthContext {
  readonly tenantId: string;
  readonly keyId: string;
  readonly plan: Plan;
  readonly scopes: readonly Scope[];
}

export interface AuthVariables {
  auth: AuthContext;
}

export interface AuthOptions {
  /** The scope this route requires. */
  readonly scope: Scope;
  /** The store to read keys from, per config. */
  readonly store: (config: Config) => Store;
  /** Clock, injectable for tests. */
  readonly now?: () => number;
}

/** Extracts the presented key from either header, or undefined. */
export function presentedKey(authorization: string | undefined, apiKeyHeader: string | undefined): string | undefined {
  if (authorization) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match?.[1];
  }
  return apiKeyHeader?.trim() || undefined;
}

export function auth(options: AuthOptions): MiddlewareHandler<{ Variables: AuthVariables & { config: Config } }> {
  const now = options.now ?? Date.now;
  return async function authMiddleware(c, next) {
    const key = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
    if (!key) throw new ApiError('UNAUTHORIZED', 'missing API key: send Authorization: Bearer <key> or x-api-key', { headers: { 'WWW-Authenticate': 'Bearer' } });
    // A key that cannot exist never costs a store round trip.
    if (!API_KEY_PATTERN.test(key)) throw new ApiError('UNAUTHORIZED', 'invalid API key', { headers: { 'WWW-Authenticate': 'Bearer' } });

    const raw = await options.store(c.get('config')).get<unknown>(storeKeys.apiKey(await sha256Hex(key)));
    const record = raw === null ? undefined : ApiKeyRecordSchema.safeParse(raw).data;
    if (!record || record.status !== 'active') throw new ApiError('UNAUTHORIZED', 'invalid API key', { headers: { 'WWW-Authenticate': 'Bearer' } });
    if (record.expiresAt !== undefined && record.expiresAt <= now()) throw new ApiError('UNAUTHORIZED', 'API key expired', { headers: { 'WWW-Authenticate': 'Bearer' } });
    if (!record.scopes.includes(options.scope)) throw new ApiError('FORBIDDEN', `this key lacks the '${options.scope}' scope`);

    c.set('auth', { tenantId: record.tenantId, keyId: record.keyId, plan: record.plan, scopes: record.scopes });
    await next();
  };
}
