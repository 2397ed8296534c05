/**
 * Optional JWT mode: bearer JWTs from one configured OIDC issuer, verified with WebCrypto against
 * the issuer's JWKS (RS256, ES256), then mapped to a principal (subject, tenant, plan, scopes).
 * Written here rather than on hono's `verifyWithJwks`, which fetches the JWKS on every call with no
 * cache or timeout, has no clock-skew allowance and puts the token in its error messages.
 *
 * Claims: `iss` must equal the issuer, `aud` (string or array) must contain the audience, `exp` is
 * required, `nbf` and `iat` are honoured, all with {@link CLOCK_SKEW_S} of allowance. The tenant is
 * `tenant_id` (or a namespaced `https://…/tenant_id`), the plan `plan` (default free), the scopes
 * `scope` (space-separated) or `scp` (array), filtered to the gateway's scopes.
 */
import { PLANS, SCOPES, TENANT_ID_PATTERN, type Plan, type Scope } from '../../shared/contracts/tenancy';
import type { JwtConfig } from '../env';

/** Tokens may be this many seconds past `exp` or before `nbf`/`iat`: clocks differ a little. */
export const CLOCK_SKEW_S = 60;
const MAX_TOKEN_LENGTH = 8_192;
const MAX_JWKS_BYTES = 256 * 1024;
const MAX_JWKS_KEYS = 64;

const ALGORITHMS = {
  RS256: { import: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, verify: { name: 'RSASSA-PKCS1-v1_5' } },
  ES256: { import: { name: 'ECDSA', namedCurve: 'P-256' }, verify: { name: 'ECDSA', hash: 'SHA-256' } },
} as const;
type Algorithm = keyof typeof ALGORITHMS;

/** Why a token was refused; every message is safe to show a client (it never echoes the token). */
export type JwtFailure =
  | 'malformed'
  | 'unsupported_algorithm'
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  | 'not_yet_valid'
  | 'invalid_claims'
  | 'jwks_unavailable';

/** A refused token. `jwks_unavailable` is the issuer's fault, not the client's; the rest are 401s. */
export class JwtError extends Error {
  override readonly name = 'JwtError';

  constructor(
    readonly reason: JwtFailure,
    message: string,
  ) {
    super(message);
  }
}

/** Who a verified token speaks for. */
export interface JwtPrincipal {
  /** The `sub` claim. */
  readonly subject: string;
  readonly tenantId: string;
  readonly plan: Plan;
  /** The token's scopes that the gateway knows; may be empty. */
  readonly scopes: readonly Scope[];
  /** `exp`, in ms since the epoch. */
  readonly expiresAt: number;
}

/** Injectable for tests; defaults: global fetch, Date.now, the isolate's JWKS cache. */
export interface JwtDeps {
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly cache?: JwksCache;
}

export interface JwksCacheOptions {
  /** How long fetched keys are used before a refetch (default 10 min). */
  readonly ttlMs?: number;
  /** After a fetch, no refetch for an unknown `kid` before this (default 30 s). */
  readonly minRefetchIntervalMs?: number;
  /** After a failed fetch, no new attempt before this (default 2 s). */
  readonly failureBackoffMs?: number;
  /** Stale keys still serve while the issuer cannot be reached, up to this age (default 1 h). */
  readonly maxStaleMs?: number;
  readonly fetchTimeoutMs?: number;
  /** JWKS URLs remembered at once (default 8); the oldest is dropped beyond. */
  readonly maxIssuers?: number;
}

interface VerificationKey {
  readonly alg: Algorithm;
  readonly key: CryptoKey;
}

interface JwksEntry {
  keys: Map<string, VerificationKey> | undefined;
  fetchedAt: number;
  nextFetchAt: number;
  inflight: Promise<void> | undefined;
}

/**
 * Issuers' verification keys by JWKS URL and `kid`, imported once. Unknown kids trigger at most one
 * refetch per {@link JwksCacheOptions.minRefetchIntervalMs}, so a flood of made-up kids cannot
 * hammer the issuer; concurrent misses share one fetch.
 */
export class JwksCache {
  readonly #entries = new Map<string, JwksEntry>();
  readonly #o: Required<JwksCacheOptions>;

  constructor(options: JwksCacheOptions = {}) {
    const defaults = { ttlMs: 600_000, minRefetchIntervalMs: 30_000, failureBackoffMs: 2_000, maxStaleMs: 3_600_000 };
    this.#o = { ...defaults, fetchTimeoutMs: 5_000, maxIssuers: 8, ...options };
  }

  /** The key with this id from the JWKS at `url`, fetching or refetching as the rules allow. */
  async key(url: string, kid: string, fetcher: typeof fetch, now: () => number): Promise<VerificationKey> {
    const entry = this.#entry(url);
    const t = now();
    if (!entry.keys || t - entry.fetchedAt >= this.#o.ttlMs) {
      const usable = entry.keys !== undefined && t - entry.fetchedAt < this.#o.maxStaleMs;
      // Stale keys keep serving while the issuer is unreachable, up to maxStaleMs.
      const refreshed =
        t >= entry.nextFetchAt
          ? this.#refresh(entry, url, fetcher, now)
          : Promise.reject(new JwtError('jwks_unavailable', "the issuer's keys are unavailable"));
      await refreshed.catch((err: unknown) => {
        if (!usable) throw err;
      });
    }
    let found = entry.keys?.get(kid);
    if (!found && now() >= entry.nextFetchAt) {
      // The issuer may have rotated its keys since the last fetch.
      await this.#refresh(entry, url, fetcher, now).catch(() => undefined);
      found = entry.keys?.get(kid);
    }
    if (!found) throw new JwtError('unknown_key', 'the token is signed with an unknown key');
    return found;
  }

  #entry(url: string): JwksEntry {
    let entry = this.#entries.get(url);
    if (!entry) {
      entry = { keys: undefined, fetchedAt: 0, nextFetchAt: Number.NEGATIVE_INFINITY, inflight: undefined };
      this.#entries.set(url, entry);
      const oldest = this.#entries.keys().next().value;
      if (this.#entries.size > this.#o.maxIssuers && oldest !== undefined) this.#entries.delete(oldest);
    }
    return entry;
  }

  async #refresh(entry: JwksEntry, url: string, fetcher: typeof fetch, now: () => number): Promise<void> {
    entry.inflight ??= loadJwks(url, fetcher, this.#o.fetchTimeoutMs)
      .then(
        (keys) => {
          entry.keys = keys;
          entry.fetchedAt = now();
          entry.nextFetchAt = entry.fetchedAt + this.#o.minRefetchIntervalMs;
        },
        (err: unknown) => {
          entry.nextFetchAt = now() + this.#o.failureBackoffMs;
          throw err;
        },
      )
      .finally(() => {
        entry.inflight = undefined;
      });
    // The fetch may belong to another request; never wait on it longer than a fetch may take.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new JwtError('jwks_unavailable', "the issuer's keys did not arrive in time")), this.#o.fetchTimeoutMs + 1_000);
    });
    try {
      await Promise.race([entry.inflight, deadline]);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

async function loadJwks(url: string, fetcher: typeof fetch, timeoutMs: number): Promise<Map<string, VerificationKey>> {
  const unavailable = (why: string) => new JwtError('jwks_unavailable', `the issuer's keys are unavailable (${why})`);
  let text: string;
  try {
    const res = await fetcher(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw unavailable(`HTTP ${res.status}`);
    if (Number(res.headers.get('content-length')) > MAX_JWKS_BYTES) throw unavailable('too large');
    text = await res.text();
  } catch (err) {
    throw err instanceof JwtError ? err : unavailable('fetch failed');
  }
  if (text.length > MAX_JWKS_BYTES) throw unavailable('too large');
  let keys: unknown;
  try {
    keys = (JSON.parse(text) as { keys?: unknown }).keys;
  } catch {
    throw unavailable('not JSON');
  }
  if (!Array.isArray(keys)) throw unavailable('no keys');
  const imported = new Map<string, VerificationKey>();
  for (const jwk of keys.slice(0, MAX_JWKS_KEYS)) {
    const key = await importJwk(jwk);
    if (key && !imported.has(key.kid)) imported.set(key.kid, key.value);
  }
  return imported;
}

/** A public signing key of a supported kind, or undefined for anything else (skipped, not fatal). */
async function importJwk(jwk: unknown): Promise<{ kid: string; value: VerificationKey } | undefined> {
  if (typeof jwk !== 'object' || jwk === null) return undefined;
  const { kid, kty, alg, use, crv, n, e, x, y } = jwk as Record<string, unknown>;
  if (typeof kid !== 'string' || kid.length === 0 || kid.length > 256 || (use !== undefined && use !== 'sig')) return undefined;
  let algorithm: Algorithm;
  let material: JsonWebKey;
  // RSA moduli under 2048 bits (342 base64url characters) are refused as too weak.
  if (kty === 'RSA' && (alg === undefined || alg === 'RS256') && typeof n === 'string' && typeof e === 'string' && n.length >= 342) {
    algorithm = 'RS256';
    material = { kty, n, e };
  } else if (kty === 'EC' && crv === 'P-256' && (alg === undefined || alg === 'ES256') && typeof x === 'string' && typeof y === 'string') {
    algorithm = 'ES256';
    material = { kty, crv, x, y };
  } else {
    return undefined;
  }
  try {
    const key = await crypto.subtle.importKey('jwk', material, ALGORITHMS[algorithm].import, false, ['verify']);
    return { kid, value: { alg: algorithm, key } };
  } catch {
    return undefined;
  }
}

// Isolate-wide on purpose: the issuer's keys outlive a request (bounded: few URLs, TTL, key cap).
const isolateCache = new JwksCache();

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Whether a bearer credential has the shape of a JWT (API keys never do), to pick the verifier. */
export function looksLikeJwt(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

function base64UrlBytes(segment: string): Uint8Array<ArrayBuffer> {
  if (!SEGMENT.test(segment) || segment.length % 4 === 1) throw new JwtError('malformed', 'the token is not a well-formed JWT');
  const binary = atob(segment.replaceAll('-', '+').replaceAll('_', '/') + '='.repeat((4 - (segment.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function jsonObject(segment: string): Record<string, unknown> {
  try {
    const value = JSON.parse(utf8.decode(base64UrlBytes(segment))) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new JwtError('malformed', 'the token is not a well-formed JWT');
}

/**
 * Verifies a bearer JWT against the configured issuer and returns its principal; throws
 * {@link JwtError} with a safe reason otherwise.
 */
export async function verifyJwt(token: string, config: JwtConfig, deps: JwtDeps = {}): Promise<JwtPrincipal> {
  const now = deps.now ?? Date.now;
  const parts = token.length <= MAX_TOKEN_LENGTH ? token.split('.') : [];
  const [head = '', body = '', signature = ''] = parts;
  if (parts.length !== 3) throw new JwtError('malformed', 'the token is not a well-formed JWT');
  const header = jsonObject(head);
  const alg = header.alg;
  if (alg !== 'RS256' && alg !== 'ES256') throw new JwtError('unsupported_algorithm', 'the token must be signed with RS256 or ES256');
  if (header.crit !== undefined) throw new JwtError('malformed', 'the token has critical header parameters');
  if (header.typ !== undefined && !(typeof header.typ === 'string' && /^(application\/)?(at\+)?jwt$/i.test(header.typ))) {
    throw new JwtError('malformed', 'the token is not a JWT');
  }
  const kid = header.kid;
  if (typeof kid !== 'string' || kid.length === 0) throw new JwtError('malformed', 'the token names no key (kid)');
  const claims = jsonObject(body);
  const signatureBytes = base64UrlBytes(signature);
  // A token of another issuer never costs a JWKS fetch.
  if (claims.iss !== config.issuer) throw new JwtError('wrong_issuer', 'the token is from another issuer');

  const key = await (deps.cache ?? isolateCache).key(config.jwksUrl, kid, deps.fetch ?? fetch, now);
  if (key.alg !== alg) throw new JwtError('unsupported_algorithm', "the token's algorithm does not match its key");
  const signed = new TextEncoder().encode(`${head}.${body}`);
  // ES256 signatures are the raw 64-byte r||s that WebCrypto expects; anything else is forged or DER.
  const valid = (alg !== 'ES256' || signatureBytes.length === 64) && (await crypto.subtle.verify(ALGORITHMS[alg].verify, key.key, signatureBytes, signed));
  if (!valid) throw new JwtError('bad_signature', 'the token signature is invalid');

  const nowS = now() / 1000;
  const { exp, nbf, iat, aud } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new JwtError('invalid_claims', 'the token has no expiry (exp)');
  if (nowS >= exp + CLOCK_SKEW_S) throw new JwtError('expired', 'the token has expired');
  for (const start of [nbf, iat]) {
    if (start === undefined) continue;
    if (typeof start !== 'number' || !Number.isFinite(start)) throw new JwtError('invalid_claims', 'the token has a malformed nbf or iat');
    if (nowS + CLOCK_SKEW_S < start) throw new JwtError('not_yet_valid', 'the token is not valid yet');
  }
  if (!(aud === config.audience || (Array.isArray(aud) && aud.includes(config.audience)))) {
    throw new JwtError('wrong_audience', 'the token is for another audience');
  }
  return { ...principalClaims(claims), expiresAt: exp * 1000 };
}

/** A claim by its plain name or, failing that, one namespaced name ending in `/<name>`. */
function claim(claims: Record<string, unknown>, name: string): unknown {
  if (claims[name] !== undefined) return claims[name];
  const values = Object.entries(claims)
    .filter(([k]) => /^https?:\/\/\S+\//.test(k) && k.endsWith(`/${name}`))
    .map(([, v]) => v);
  if (new Set(values.map((v) => JSON.stringify(v))).size > 1) throw new JwtError('invalid_claims', `the token has conflicting ${name} claims`);
  return values[0];
}

function principalClaims(claims: Record<string, unknown>): Omit<JwtPrincipal, 'expiresAt'> {
  const { sub } = claims;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) throw new JwtError('invalid_claims', 'the token has no subject (sub)');
  const tenantId = claim(claims, 'tenant_id');
  if (typeof tenantId !== 'string' || !TENANT_ID_PATTERN.test(tenantId)) {
    throw new JwtError('invalid_claims', 'the token has no valid tenant_id claim');
  }
  const planClaim = claim(claims, 'plan') ?? 'free';
  const plan = PLANS.find((p) => p === planClaim);
  if (!plan) throw new JwtError('invalid_claims', `the token's plan must be one of ${PLANS.join(', ')}`);
  const { scope, scp } = claims;
  const granted = typeof scope === 'string' ? scope.split(' ') : Array.isArray(scp) ? scp : typeof scp === 'string' ? scp.split(' ') : [];
  const scopes = SCOPES.filter((s) => granted.includes(s));
  return { subject: sub, tenantId, plan, scopes };
}
