/**
 * Authentication: an API key (`Authorization: Bearer <key>` or `x-api-key`, looked up by SHA-256
 * through the isolate-cached tenant directory — key records for at most 30 s, tenant records with
 * the plan for at most 10 s — checked for status, expiry and tenant suspension) or,
 * when JWT mode is configured, a bearer JWT from the OIDC issuer (tenant, plan and scopes from its
 * claims). Either way the route's scope is enforced and `auth` is set on the context.
 *
 * Operator routes use {@link operatorAuth} instead: only the operator credential (`OPERATOR_TOKEN`,
 * a Worker secret, compared in constant time) passes there, never an API key, whatever its scopes.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { timingSafeEqual } from '../../shared/crypto/hmac';
import { API_KEY_PATTERN, OPERATOR_TOKEN_PATTERN, type Scope } from '../../shared/contracts/tenancy';
import { effectivePlan, type EffectivePlan } from '../../shared/plans';
import { ApiError } from '../errors';
import type { AppEnv, Config } from '../env';
import type { TenantDirectory } from '../services/tenant-directory';
import { JwtError, looksLikeJwt, verifyJwt, type JwtDeps } from '../services/jwt';
import { backgroundFor } from '../services/background';
import { withDeadline } from '../services/deadline';
import { timePhase } from './server-timing';

export interface AuthContext {
  readonly tenantId: string;
  readonly keyId: string;
  readonly plan: EffectivePlan;
  readonly scopes: readonly Scope[];
}

export interface AuthVariables {
  auth: AuthContext;
}

export interface AuthOptions {
  /** The scope this route requires. */
  readonly scope: Scope;
  readonly directory: TenantDirectory;
  /** Clock, injectable for tests. */
  readonly now?: () => number;
  /** JWKS fetching and caching, injectable for tests. */
  readonly jwt?: JwtDeps;
}

const CHALLENGE = { 'WWW-Authenticate': 'Bearer' };

/** Extracts the presented key from either header, or undefined. */
export function presentedKey(authorization: string | undefined, apiKeyHeader: string | undefined): string | undefined {
  if (authorization) return /^Bearer[ \t]+([^\s]+)[ \t]*$/i.exec(authorization)?.[1];
  return apiKeyHeader?.trim() || undefined;
}

const encoder = new TextEncoder();

/**
 * Whether `presented` is this deployment's operator credential. Constant time in the content (the
 * lengths are fixed by the token format); false whenever no operator credential is configured.
 */
export function isOperatorToken(presented: string | undefined, config: Pick<Config, 'operatorToken'>): boolean {
  const expected = config.operatorToken;
  if (expected === undefined || presented === undefined || !OPERATOR_TOKEN_PATTERN.test(presented)) return false;
  return timingSafeEqual(encoder.encode(presented), encoder.encode(expected));
}

/**
 * Operator routes (every tenant's data): `Authorization: Bearer <OPERATOR_TOKEN>` (or x-api-key).
 * No store lookup: a wrong credential costs a comparison and counts as a failed authentication for
 * the per-IP guard. 403 when the deployment has no operator credential configured.
 */
export function operatorAuth(): MiddlewareHandler<AppEnv> {
  return async function operatorAuthMiddleware(c, next) {
    const stop = timePhase(c, 'auth');
    try {
      checkOperator(c);
    } finally {
      stop();
    }
    await next();
  };
}

function checkOperator(c: Context<AppEnv>): void {
  const config = c.get('config');
  if (config.operatorToken === undefined) throw new ApiError('FORBIDDEN', 'operator access is disabled: this deployment has no OPERATOR_TOKEN');
  const presented = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
  if (!presented) throw new ApiError('UNAUTHORIZED', 'missing operator credential: send Authorization: Bearer <OPERATOR_TOKEN>', { headers: CHALLENGE });
  if (!isOperatorToken(presented, config)) {
    const hint = API_KEY_PATTERN.test(presented) ? ': an API key is never an operator credential, whatever its scopes' : '';
    throw new ApiError('UNAUTHORIZED', `invalid operator credential${hint}`, { headers: CHALLENGE });
  }
}

/** Tenant routes: an API key (or a JWT in JWT mode) with `options.scope`; sets `auth` on the context. */
export function auth(options: AuthOptions): MiddlewareHandler<AppEnv> {
  const authenticate = authenticator(options);
  return async function authMiddleware(c, next) {
    const stop = timePhase(c, 'auth');
    try {
      await authenticate(c);
    } finally {
      stop();
    }
    await next();
  };
}

/** Checks the presented credential and sets `auth`; throws the ApiError a client sees. */
function authenticator(options: AuthOptions): (c: Context<AppEnv>) => Promise<void> {
  const now = options.now ?? Date.now;
  return async function authenticate(c) {
    const key = presentedKey(c.req.header('authorization'), c.req.header('x-api-key'));
    if (!key) throw new ApiError('UNAUTHORIZED', 'missing API key: send Authorization: Bearer <key> or x-api-key', { headers: CHALLENGE });
    const jwtConfig = c.get('config').jwt;
    if (jwtConfig && looksLikeJwt(key)) {
      const principal = await verifyJwt(key, jwtConfig, { now, ...options.jwt }).catch((err: unknown) => {
        if (!(err instanceof JwtError)) throw err;
        if (err.reason === 'jwks_unavailable')
          throw new ApiError('UPSTREAM_ERROR', 'the identity provider is unavailable', { status: 503, headers: { 'Retry-After': '5' }, cause: err });
        throw new ApiError('UNAUTHORIZED', err.message, { headers: CHALLENGE, cause: err });
      });
      if (!principal.scopes.includes(options.scope)) throw new ApiError('FORBIDDEN', `this token lacks the '${options.scope}' scope`);
      c.set('auth', { tenantId: principal.tenantId, keyId: `jwt:${principal.subject}`, plan: effectivePlan(principal.plan), scopes: principal.scopes });
      return;
    }
    // A key that cannot exist never costs a store round trip.
    if (!API_KEY_PATTERN.test(key)) throw new ApiError('UNAUTHORIZED', 'invalid API key', { headers: CHALLENGE });

    const config = c.get('config');
    const hash = await options.directory.keyHash(key);
    // A cold lookup while the store is down is the store's fault, not the client's: 503, never 500.
    const store = c.get('store');
    const background = backgroundFor(c);
    // A warm key needs neither the store nor a deadline timer (one per request otherwise).
    const warm = options.directory.warm(store, hash, background);
    const owner =
      warm !== undefined
        ? warm
        : await withDeadline(options.directory.lookup(store, hash, background), config.limits.storeTimeoutMs, 'the key store').catch((err: unknown) => {
            throw new ApiError('UPSTREAM_ERROR', 'the key store is unavailable; retry shortly', { status: 503, headers: { 'Retry-After': '5' }, cause: err });
          });
    if (owner?.key.status !== 'active') throw new ApiError('UNAUTHORIZED', 'invalid API key', { headers: CHALLENGE });
    if (owner.key.expiresAt !== undefined && owner.key.expiresAt <= now()) {
      throw new ApiError('UNAUTHORIZED', 'API key expired', { headers: CHALLENGE });
    }
    if (owner.tenant.status !== 'active') throw new ApiError('FORBIDDEN', 'this tenant is suspended');
    if (!owner.key.scopes.includes(options.scope)) throw new ApiError('FORBIDDEN', `this key lacks the '${options.scope}' scope`);

    c.set('auth', {
      tenantId: owner.tenant.tenantId,
      keyId: owner.key.keyId,
      plan: effectivePlan(owner.tenant.plan, owner.tenant.overrides),
      scopes: owner.key.scopes,
    });
  };
}
