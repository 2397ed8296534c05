/**
 * JWT mode inside workerd against a real local JWKS server (test/setup/edge-stack.ts) with RSA and
 * EC keys generated at setup: valid tokens and their claim mapping, every kind of rejection, and
 * the JWKS cache (TTL, rate-limited refetch on unknown kids, shared fetches, outages, timeouts),
 * counted at the server. Each test serves its JWKS under its own path so the counts are its own.
 */
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import type { JwtConfig } from '../env';
import { CLOCK_SKEW_S, JwksCache, JwtError, looksLikeJwt, verifyJwt, type JwtFailure } from './jwt';

const server = inject('jwksServerUrl');
const keys = inject('jwtSigningKeys');
const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'gateway-api';
const T0 = Date.UTC(2030, 0, 1);
const MIN = 60_000;

const encoder = new TextEncoder();
const b64url = (data: string | Uint8Array | ArrayBuffer) => {
  const bytes = typeof data === 'string' ? encoder.encode(data) : new Uint8Array(data);
  return btoa(String.fromCharCode(...bytes))
    .replaceAll('+', '-')
    .replaceAll('/', '_')
    .replace(/=+$/, '');
};

type Jwk = Record<string, string>;
const PARAMS = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  HS256: { name: 'HMAC', hash: 'SHA-256' },
} as const;

/** Signs header.claims with a private key or JWK (or, for HS256, an HMAC keyed with the JWK's `n`). */
async function sign(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  jwk: Jwk | CryptoKey,
  alg: keyof typeof PARAMS = 'RS256',
): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  let key: CryptoKey;
  if (jwk instanceof CryptoKey) key = jwk;
  else {
    const { kid: _kid, alg: _alg, use: _use, ...material } = jwk;
    key =
      alg === 'HS256'
        ? await crypto.subtle.importKey('raw', encoder.encode(material.n ?? ''), PARAMS.HS256, false, ['sign'])
        : await crypto.subtle.importKey('jwk', { ...material, kty: material.kty ?? '' }, PARAMS[alg], false, ['sign']);
  }
  return `${input}.${b64url(await crypto.subtle.sign(PARAMS[alg], key, encoder.encode(input)))}`;
}

const newKeyPair = async (params: Parameters<SubtleCrypto['generateKey']>[0]) =>
  (await crypto.subtle.generateKey(params, true, ['sign', 'verify'])) as CryptoKeyPair;
const publicJwk = async (pair: CryptoKeyPair, kid: string) => ({ ...((await crypto.subtle.exportKey('jwk', pair.publicKey)) as JsonWebKey), kid });

const claimsAt = (now: number, extra: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  aud: AUDIENCE,
  sub: 'user-42',
  tenant_id: 'ten_jwt',
  plan: 'pro',
  scope: 'openid infer jobs',
  iat: Math.floor(now / 1000),
  exp: Math.floor(now / 1000) + 300,
  ...extra,
});
const rsaToken = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  sign({ alg: 'RS256', typ: 'JWT', kid: 'rsa-1', ...header }, claims, keys.rsa);
const ecToken = (claims: Record<string, unknown>) => sign({ alg: 'ES256', typ: 'JWT', kid: 'ec-1' }, claims, keys.ec, 'ES256');

/** A JWKS path of this test, its config, a fresh cache with a movable clock, and the hit count. */
function issuer(name: string, cacheOptions: ConstructorParameters<typeof JwksCache>[0] = {}) {
  const path = `/${name}-${crypto.randomUUID()}/jwks.json`;
  let now = T0;
  const config: JwtConfig = { issuer: ISSUER, audience: AUDIENCE, jwksUrl: `${server}${path}` };
  const deps = { cache: new JwksCache(cacheOptions), now: () => now };
  return {
    config,
    deps,
    advance: (ms: number) => (now += ms),
    verify: (token: string) => verifyJwt(token, config, deps),
    hits: async () => ((await (await fetch(`${server}/_admin?path=${encodeURIComponent(path)}`)).json()) as { hits: number }).hits,
    serve: (how: { jwks?: unknown; status?: number; delayMs?: number }) =>
      fetch(`${server}/_admin?path=${encodeURIComponent(path)}`, { method: 'PUT', body: JSON.stringify(how) }),
  };
}

async function rejection(promise: Promise<unknown>): Promise<JwtError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JwtError);
  return err as JwtError;
}
const expectRefused = async (promise: Promise<unknown>, reason: JwtFailure) => expect((await rejection(promise)).reason).toBe(reason);

describe('verifyJwt accepts', () => {
  it('an RS256 token and maps its claims to a principal', async () => {
    const gw = issuer('rs256');
    const claims = claimsAt(T0);
    expect(await gw.verify(await rsaToken(claims))).toEqual({
      subject: 'user-42',
      tenantId: 'ten_jwt',
      plan: 'pro',
      scopes: ['infer', 'jobs'],
      expiresAt: claims.exp * 1000,
    });
  });

  it('an ES256 token, with the audience in an array', async () => {
    const gw = issuer('es256');
    const principal = await gw.verify(await ecToken(claimsAt(T0, { aud: ['other', AUDIENCE] })));
    expect(principal).toMatchObject({ subject: 'user-42', tenantId: 'ten_jwt' });
  });

  it('namespaced tenant claims, scp arrays, and the free plan by default', async () => {
    const gw = issuer('claims');
    const { tenant_id: _t, plan: _p, scope: _s, ...base } = claimsAt(T0);
    const token = await rsaToken({ ...base, 'https://gateway.example.com/tenant_id': 'ten_ns', scp: ['infer', 'admin', 'root', 'webhooks:ingest'] });
    expect(await gw.verify(token)).toMatchObject({ tenantId: 'ten_ns', plan: 'free', scopes: ['infer', 'webhooks:ingest', 'admin'] });
    expect((await gw.verify(await rsaToken({ ...base, tenant_id: 'ten_x' }))).scopes).toEqual([]);
  });

  it(`tokens within ${CLOCK_SKEW_S} s of their exp or nbf`, async () => {
    const gw = issuer('skew');
    const s = T0 / 1000;
    await expect(gw.verify(await rsaToken(claimsAt(T0, { exp: s - CLOCK_SKEW_S + 5 })))).resolves.toBeDefined();
    await expect(gw.verify(await rsaToken(claimsAt(T0, { nbf: s + CLOCK_SKEW_S - 5, iat: s + 10 })))).resolves.toBeDefined();
  });
});

describe('verifyJwt refuses', () => {
  it('another issuer, without fetching the JWKS', async () => {
    const gw = issuer('iss');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { iss: 'https://evil.test/' }))), 'wrong_issuer');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { iss: undefined }))), 'wrong_issuer');
    expect(await gw.hits()).toBe(0);
  });

  it('another audience', async () => {
    const gw = issuer('aud');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { aud: 'someone-else' }))), 'wrong_audience');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { aud: ['a', 'b'] }))), 'wrong_audience');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { aud: undefined }))), 'wrong_audience');
  });

  it('expired, not yet valid, or without exp', async () => {
    const gw = issuer('time');
    const s = T0 / 1000;
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { exp: s - CLOCK_SKEW_S - 1 }))), 'expired');
    await expectRefused(gw.verify(await ecToken(claimsAt(T0, { nbf: s + CLOCK_SKEW_S + 5 }))), 'not_yet_valid');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { iat: s + 3600 }))), 'not_yet_valid');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { exp: undefined }))), 'invalid_claims');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0, { exp: '9999999999' }))), 'invalid_claims');
  });

  it('a bad signature: tampered claims, or another key under a known kid', async () => {
    const gw = issuer('sig');
    const [head, , sig] = (await rsaToken(claimsAt(T0))).split('.');
    await expectRefused(gw.verify(`${head}.${b64url(JSON.stringify(claimsAt(T0, { plan: 'enterprise' })))}.${sig}`), 'bad_signature');
    const other = await newKeyPair({ name: 'ECDSA', namedCurve: 'P-256' });
    await expectRefused(gw.verify(await sign({ alg: 'ES256', kid: 'ec-1' }, claimsAt(T0), other.privateKey, 'ES256')), 'bad_signature');
    const [eh, eb] = (await ecToken(claimsAt(T0))).split('.');
    await expectRefused(gw.verify(`${eh}.${eb}.${b64url(new Uint8Array(63))}`), 'bad_signature');
  });

  it('an unknown kid', async () => {
    const gw = issuer('kid');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0), { kid: 'rsa-999' })), 'unknown_key');
  });

  it('alg none, HS256 signed with the public key, and an algorithm that does not match the key', async () => {
    const gw = issuer('alg');
    const none = `${b64url(JSON.stringify({ alg: 'none', kid: 'rsa-1' }))}.${b64url(JSON.stringify(claimsAt(T0)))}.`;
    await expectRefused(gw.verify(none), 'unsupported_algorithm');
    // The classic confusion: HMAC keyed with the issuer's public key material.
    await expectRefused(gw.verify(await sign({ alg: 'HS256', kid: 'rsa-1' }, claimsAt(T0), keys.rsa, 'HS256')), 'unsupported_algorithm');
    await expectRefused(gw.verify(await sign({ alg: 'RS256', kid: 'ec-1' }, claimsAt(T0), keys.rsa)), 'unsupported_algorithm');
    await expectRefused(gw.verify(await sign({ alg: 'PS256', kid: 'rsa-1' }, claimsAt(T0), keys.rsa)), 'unsupported_algorithm');
  });

  it('malformed tokens', async () => {
    const gw = issuer('malformed');
    const good = (await rsaToken(claimsAt(T0))).split('.');
    const header = (h: unknown) => `${b64url(JSON.stringify(h))}.${good[1]}.${good[2]}`;
    for (const token of [
      '',
      'abc',
      'a.b',
      `${good.join('.')}.extra`,
      `${good[0]}.%%%.${good[2]}`,
      `${b64url('[1,2]')}.${good[1]}.${good[2]}`,
      `${b64url('{"alg":"RS256"')}.${good[1]}.${good[2]}`,
      `${b64url(new Uint8Array([0x7b, 0xff, 0x7d]))}.${good[1]}.${good[2]}`,
      header({ alg: 'RS256' }),
      header({ alg: 'RS256', kid: 'rsa-1', crit: ['exp'] }),
      header({ alg: 'RS256', kid: 'rsa-1', typ: 'JOSE+JSON' }),
      `${good[0]}.${good[1]}.${good[2]}${'A'.repeat(9000)}`,
    ]) {
      await expectRefused(gw.verify(token), 'malformed');
    }
  });

  it('claims that do not name a tenant, subject or plan properly', async () => {
    const gw = issuer('bad-claims');
    for (const extra of [
      { tenant_id: undefined },
      { tenant_id: 'Not A Tenant' },
      { sub: undefined },
      { sub: '' },
      { plan: 'gold' },
      { tenant_id: undefined, 'https://a.example/tenant_id': 'ten_a', 'https://b.example/tenant_id': 'ten_b' },
    ]) {
      await expectRefused(gw.verify(await rsaToken(claimsAt(T0, extra))), 'invalid_claims');
    }
  });

  it('with messages that never echo the token', async () => {
    const gw = issuer('messages');
    const token = await rsaToken(claimsAt(T0, { aud: 'x' }));
    const err = await rejection(gw.verify(token));
    for (const part of token.split('.')) expect(err.message).not.toContain(part.slice(0, 16));
  });
});

describe('the JWKS cache', () => {
  it('fetches the JWKS once for many tokens, and again after its TTL', async () => {
    const gw = issuer('ttl', { ttlMs: 10 * MIN });
    for (let i = 0; i < 5; i++) await gw.verify(await rsaToken(claimsAt(T0)));
    await gw.verify(await ecToken(claimsAt(T0)));
    expect(await gw.hits()).toBe(1);
    gw.advance(10 * MIN);
    await gw.verify(await rsaToken(claimsAt(T0 + 10 * MIN)));
    expect(await gw.hits()).toBe(2);
  });

  it('shares one fetch between concurrent first verifications', async () => {
    const gw = issuer('concurrent');
    const tokens = await Promise.all(Array.from({ length: 10 }, () => rsaToken(claimsAt(T0))));
    await Promise.all(tokens.map((t) => gw.verify(t)));
    expect(await gw.hits()).toBe(1);
  });

  it('refetches once for unknown kids, at most once per interval, and so picks up a rotated key', async () => {
    const gw = issuer('rotate', { minRefetchIntervalMs: 30_000 });
    await gw.verify(await rsaToken(claimsAt(T0)));
    for (let i = 0; i < 20; i++) await expectRefused(gw.verify(await rsaToken(claimsAt(T0), { kid: `bogus-${i}` })), 'unknown_key');
    expect(await gw.hits()).toBe(1);

    const next = await newKeyPair({ name: 'ECDSA', namedCurve: 'P-256' });
    await gw.serve({ jwks: { keys: [await publicJwk(next, 'ec-2')] } });
    gw.advance(31_000);
    const principal = await gw.verify(await sign({ alg: 'ES256', kid: 'ec-2' }, claimsAt(T0), next.privateKey, 'ES256'));
    expect(principal.subject).toBe('user-42');
    for (let i = 0; i < 20; i++) await expectRefused(gw.verify(await rsaToken(claimsAt(T0), { kid: `bogus-${i}` })), 'unknown_key');
    expect(await gw.hits()).toBe(2);
  });

  it('serves stale keys through an outage for up to its bound, then refuses', async () => {
    const gw = issuer('outage', { ttlMs: 10 * MIN, maxStaleMs: 60 * MIN, failureBackoffMs: 2_000 });
    await gw.verify(await rsaToken(claimsAt(T0)));
    await gw.serve({ status: 503 });
    gw.advance(11 * MIN);
    await expect(gw.verify(await rsaToken(claimsAt(T0 + 11 * MIN)))).resolves.toBeDefined();
    await expect(gw.verify(await rsaToken(claimsAt(T0 + 11 * MIN)))).resolves.toBeDefined();
    expect(await gw.hits()).toBe(2); // the failed refetch is not retried within the back-off
    gw.advance(60 * MIN);
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0 + 71 * MIN))), 'jwks_unavailable');
  });

  it('refuses when the issuer cannot be reached at all, or answers too slowly', async () => {
    const down = issuer('down');
    await down.serve({ status: 500 });
    await expectRefused(down.verify(await rsaToken(claimsAt(T0))), 'jwks_unavailable');
    const garbage = issuer('garbage');
    await garbage.serve({ jwks: 'not a key set' });
    await expectRefused(garbage.verify(await rsaToken(claimsAt(T0))), 'jwks_unavailable');
    const slow = issuer('slow', { fetchTimeoutMs: 200 });
    await slow.serve({ delayMs: 3_000 });
    const started = Date.now();
    await expectRefused(slow.verify(await rsaToken(claimsAt(T0))), 'jwks_unavailable');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('skips keys it must not use: weak RSA, encryption keys, other curves', async () => {
    const gw = issuer('weak');
    const weak = await newKeyPair({ ...PARAMS.RS256, modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]) });
    const weakPublic = await publicJwk(weak, 'weak');
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...rsaPublic } = keys.rsa;
    const p384 = await newKeyPair({ name: 'ECDSA', namedCurve: 'P-384' });
    const p384Public = await publicJwk(p384, 'p384');
    await gw.serve({ jwks: { keys: [weakPublic, { ...rsaPublic, use: 'enc' }, p384Public, { kty: 'oct', kid: 'hmac', k: 'c2VjcmV0' }] } });
    await expectRefused(gw.verify(await sign({ alg: 'RS256', kid: 'weak' }, claimsAt(T0), weak.privateKey)), 'unknown_key');
    await expectRefused(gw.verify(await rsaToken(claimsAt(T0))), 'unknown_key');
    const p384Input = `${b64url(JSON.stringify({ alg: 'ES256', kid: 'p384' }))}.${b64url(JSON.stringify(claimsAt(T0)))}`;
    const p384Sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, p384.privateKey, encoder.encode(p384Input));
    await expectRefused(gw.verify(`${p384Input}.${b64url(p384Sig)}`), 'unknown_key');
    await expectRefused(gw.verify(await sign({ alg: 'RS256', kid: 'hmac' }, claimsAt(T0), keys.rsa)), 'unknown_key');
    // The same keys, published properly, work: the refusals above were about the keys.
    await gw.serve({ jwks: { keys: [rsaPublic] } });
    gw.advance(31_000);
    await expect(gw.verify(await rsaToken(claimsAt(T0 + 31_000)))).resolves.toBeDefined();
  });

  it('lives in the isolate when no cache is injected', async () => {
    const gw = issuer('isolate');
    const deps = { now: () => T0 };
    await verifyJwt(await rsaToken(claimsAt(T0)), gw.config, deps);
    await verifyJwt(await ecToken(claimsAt(T0)), gw.config, deps);
    expect(await gw.hits()).toBe(1);
  });
});

describe('looksLikeJwt', () => {
  it('tells JWTs from API keys', async () => {
    expect(looksLikeJwt(await rsaToken(claimsAt(T0)))).toBe(true);
    expect(looksLikeJwt(`${b64url('{"alg":"none"}')}.${b64url('{}')}.`)).toBe(true);
    expect(looksLikeJwt(`gw_live_${'A'.repeat(43)}`)).toBe(false);
    expect(looksLikeJwt('eyJhbGciOiJIUzI1NiJ9')).toBe(false);
    expect(looksLikeJwt(`eyJ${'a'.repeat(9000)}.b.c`)).toBe(false);
  });
});
