/**
 * API keys in workerd against the real store: scopes, expiry, suspension, plan limits, and the
 * revocation bound of the isolate cache, driven by an injectable clock.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createApp } from '../app';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { ModelListSchema } from '../../shared/contracts/openai';
import { REVOCATION_BOUND_MS, TenantDirectory } from '../services/tenant-directory';
import { bridgeQuiet, bridgeStats, resetBridgeStats } from '../testing/gateway-client';
import { revokeKey, seedTenantKey } from '../testing/seed';

const model = inject('model');

function appWithClock(start = Date.now()) {
  let now = start;
  const clock = () => now;
  const app = createApp({ now: clock, directory: new TenantDirectory({ now: clock }) });
  return {
    advance: (ms: number) => (now += ms),
    call: async (key: string, path = '/v1/infer', body: unknown = { model, prompt: 'hi', params: { max_tokens: 1 } }): Promise<Response> =>
      app.request(path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }, env),
    get: async (key: string, path: string): Promise<Response> => app.request(path, { headers: { authorization: `Bearer ${key}` } }, env),
  };
}

const codeOf = async (res: Response) => ErrorEnvelopeSchema.parse(await res.json()).error.code;

describe('key lookups', () => {
  it('serves a burst of requests with a cold key from one store read of the key and its tenant', async () => {
    const seeded = await seedTenantKey();
    const gw = appWithClock();
    await bridgeQuiet();
    await resetBridgeStats();
    const statuses = await Promise.all(Array.from({ length: 40 }, () => gw.get(seeded.key, '/v1/models').then((r) => r.status)));
    const stats = await bridgeStats();
    console.warn(`40 concurrent requests with a cold key: ${JSON.stringify(stats.commandsByName)} commands in ${stats.httpRequests} store round trips`);
    expect(statuses.every((s) => s === 200)).toBe(true);
    // One GET of the key record and one of its tenant, however many requests arrived at once.
    expect(stats.commandsByName).toEqual({ get: 2 });
  });
});

describe('API key revocation', () => {
  it(`takes effect within ${REVOCATION_BOUND_MS / 1000} s even for a warm isolate`, async () => {
    const seeded = await seedTenantKey();
    const gw = appWithClock();
    expect((await gw.call(seeded.key)).status).toBe(200);
    await revokeKey(seeded);
    // Inside the bound the isolate may still serve the cached record...
    gw.advance(1_000);
    expect([200, 401]).toContain((await gw.call(seeded.key)).status);
    // ...but never past it.
    gw.advance(REVOCATION_BOUND_MS);
    const res = await gw.call(seeded.key);
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe('UNAUTHORIZED');
  });

  it('refuses a key revoked before its first use at once', async () => {
    const seeded = await seedTenantKey();
    await revokeKey(seeded);
    expect((await appWithClock().call(seeded.key)).status).toBe(401);
  });
});

describe('API key expiry', () => {
  it('accepts a key until expiresAt and refuses it after, even from the cache', async () => {
    const start = Date.now();
    const seeded = await seedTenantKey({ expiresAt: start + 10_000 });
    const gw = appWithClock(start);
    expect((await gw.call(seeded.key)).status).toBe(200);
    gw.advance(10_001);
    const res = await gw.call(seeded.key);
    expect(res.status).toBe(401);
    expect(ErrorEnvelopeSchema.parse(await res.json()).error.message).toMatch(/expired/);
  });
});

describe('scopes, suspension and plan', () => {
  it('answers 403 FORBIDDEN for a key without the infer scope', async () => {
    const seeded = await seedTenantKey({ scopes: ['jobs'] });
    const res = await appWithClock().call(seeded.key);
    expect(res.status).toBe(403);
    expect(await codeOf(res)).toBe('FORBIDDEN');
  });

  it('answers 403 for a suspended tenant', async () => {
    const seeded = await seedTenantKey({ status: 'suspended' });
    expect((await appWithClock().call(seeded.key)).status).toBe(403);
  });

  it("refuses max_tokens above the plan's cap with the limit in details", async () => {
    const seeded = await seedTenantKey({ plan: 'free' });
    const res = await appWithClock().call(seeded.key, '/v1/infer', { model, prompt: 'hi', params: { max_tokens: 513 } });
    expect(res.status).toBe(400);
    expect(ErrorEnvelopeSchema.parse(await res.json()).error.details).toMatchObject({ max_tokens_limit: 512 });
  });

  it('applies per-tenant overrides: a lower max_tokens cap', async () => {
    const seeded = await seedTenantKey({ overrides: { maxTokens: 8 } });
    const gw = appWithClock();
    expect((await gw.call(seeded.key, '/v1/infer', { model, prompt: 'hi', params: { max_tokens: 9 } })).status).toBe(400);
    expect((await gw.call(seeded.key, '/v1/infer', { model, prompt: 'hi', params: { max_tokens: 8 } })).status).toBe(200);
  });

  it('applies per-tenant overrides: only the allowed models are usable and listed', async () => {
    const seeded = await seedTenantKey({ overrides: { allowedModels: ['some-other-model'] } });
    const gw = appWithClock();
    const forbidden = await gw.call(seeded.key);
    expect(forbidden.status).toBe(403);
    expect(await codeOf(forbidden)).toBe('FORBIDDEN');
    expect(ModelListSchema.parse(await (await gw.get(seeded.key, '/v1/models')).json()).data).toEqual([]);
  });

  it('lists the routed models for a tenant without restrictions, in the OpenAI shape', async () => {
    const seeded = await seedTenantKey();
    const res = await appWithClock().get(seeded.key, '/v1/models');
    expect(res.status).toBe(200);
    const body = ModelListSchema.parse(await res.json());
    expect(body.data.map((m) => m.id)).toContain(model);
  });
});

describe('JWT mode', () => {
  const jwksServer = inject('jwksServerUrl');
  const keys = inject('jwtSigningKeys');
  const ISSUER = 'https://issuer.auth.test/';
  const b64url = (data: string | ArrayBuffer) => {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data);
    return btoa(String.fromCharCode(...bytes))
      .replaceAll('+', '-')
      .replaceAll('/', '_')
      .replace(/=+$/, '');
  };
  async function rs256(claims: Record<string, unknown>): Promise<string> {
    const { kid, alg: _alg, use: _use, ...material } = keys.rsa as Record<string, string>;
    const key = await crypto.subtle.importKey('jwk', { ...material, kty: material.kty ?? 'RSA' }, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, [
      'sign',
    ]);
    const input = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', key, new TextEncoder().encode(input)))}`;
  }
  const jwtEnv = { ...(env as object), JWT_ISSUER: ISSUER, JWT_AUDIENCE: 'gateway', JWT_JWKS_URL: `${jwksServer}/auth-test/jwks.json` };
  const app = createApp();
  const call = (token: string) =>
    app.request(
      '/v1/infer',
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt: 'jwt', params: { max_tokens: 1 } }),
      },
      jwtEnv,
    );
  const claims = (extra: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: ISSUER, aud: 'gateway', sub: 'svc-1', tenant_id: 'ten_jwtmode', plan: 'free', scope: 'infer', iat: now, exp: now + 300, ...extra };
  };

  it('accepts a token from the configured issuer, with tenant and plan from its claims', async () => {
    const res = await call(await rs256(claims({ plan: 'free' })));
    expect(res.status).toBe(200);
    // The free plan's cap (512) comes from the claim.
    const capped = await app.request(
      '/v1/infer',
      {
        method: 'POST',
        headers: { authorization: `Bearer ${await rs256(claims())}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt: 'x', params: { max_tokens: 600 } }),
      },
      jwtEnv,
    );
    expect(capped.status).toBe(400);
  });

  it('refuses an expired token, a wrong audience and a missing scope', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    expect((await call(await rs256(claims({ iat: past - 60, exp: past })))).status).toBe(401);
    expect((await call(await rs256(claims({ aud: 'someone-else' })))).status).toBe(401);
    const noScope = await call(await rs256(claims({ scope: 'jobs' })));
    expect(noScope.status).toBe(403);
    expect(await codeOf(noScope)).toBe('FORBIDDEN');
  });

  it('still accepts API keys when JWT mode is on', async () => {
    const seeded = await seedTenantKey();
    expect((await call(seeded.key)).status).toBe(200);
  });
});

describe('store outage during auth', () => {
  it('answers a cold key lookup with 503 UPSTREAM_ERROR and Retry-After, never a 500', async () => {
    const seeded = await seedTenantKey();
    const app = createApp();
    const deadStore = { ...(env as object), UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:1', STORE_TIMEOUT_MS: '2000' };
    const res = await app.request('/v1/models', { headers: { authorization: `Bearer ${seeded.key}` } }, deadStore);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await codeOf(res)).toBe('UPSTREAM_ERROR');
  });
});
