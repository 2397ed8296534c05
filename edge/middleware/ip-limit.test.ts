/**
 * The per-IP flood guard in workerd: past the limit of failed authentications, an address gets 429
 * with Retry-After before any key lookup (zero Redis calls, counted at the bridge); other addresses
 * are unaffected, and from the tripped address a key the isolate already holds as valid and the
 * operator credential are still served (neither costs a store round trip), while cold keys are not.
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../app';
import { BASE, bridgeQuiet, bridgeStats, resetBridgeStats } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';

const bindings = { ...(env as Record<string, unknown>), IP_FAILED_AUTH_PER_MINUTE: '5' };
const app = createApp();

const randomKey = () => `gw_test_${crypto.randomUUID().replaceAll('-', '')}${crypto.randomUUID().replaceAll('-', '')}`;
const attempt = (ip: string) =>
  app.request(
    `${BASE}/v1/infer`,
    { method: 'POST', headers: { authorization: `Bearer ${randomKey()}`, 'content-type': 'application/json', 'cf-connecting-ip': ip }, body: '{}' },
    bindings,
    createExecutionContext(),
  );

describe('per-IP limit on failed authentication', () => {
  it('answers a flood of bad keys with 429 and no Redis lookups once an address is over the limit', async () => {
    const ip = `203.0.113.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < 5; i++) expect((await attempt(ip)).status).toBe(401);
    await bridgeQuiet();
    await resetBridgeStats();
    const flood = await Promise.all(Array.from({ length: 50 }, () => attempt(ip)));
    const stats = await bridgeStats();
    console.warn(
      `ip limit: 50 bad keys after the limit → ${flood.filter((r) => r.status === 429).length} answered 429, Redis round trips ${stats.httpRequests}`,
    );
    expect(flood.every((r) => r.status === 429 && Number(r.headers.get('retry-after')) > 0)).toBe(true);
    expect(stats.httpRequests).toBe(0);
    expect((await attempt('198.51.100.7')).status).toBe(401);
  });

  it('serves a warm valid key and the operator credential from a tripped address; a cold key gets 429', async () => {
    const ip = `192.0.2.${Math.floor(Math.random() * 250)}`;
    const [warm, cold] = await Promise.all([seedTenantKey({ scopes: ['infer'] }), seedTenantKey({ scopes: ['infer'] })]);
    const call = (path: string, credential: string) =>
      app.request(`${BASE}${path}`, { headers: { authorization: `Bearer ${credential}`, 'cf-connecting-ip': ip } }, bindings, createExecutionContext());
    // The isolate learns the key is valid (one store lookup), then the address trips the guard.
    expect((await call('/v1/models', warm.key)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await attempt(ip)).status).toBe(401);
    expect((await attempt(ip)).status).toBe(429);

    await bridgeQuiet();
    await resetBridgeStats();
    const served = await Promise.all(Array.from({ length: 10 }, () => call('/v1/models', warm.key)));
    const operator = await call('/v1/operator/dlq?tenant=ten_nobody_here', String((env as { OPERATOR_TOKEN?: string }).OPERATOR_TOKEN));
    const stats = await bridgeStats();
    const coldKey = await call('/v1/models', cold.key);
    const unknownKey = await call('/v1/models', randomKey());
    const wrongOperator = await call('/v1/operator/dlq', `gw_op_${'A'.repeat(43)}`);
    console.warn(
      `ip limit tripped: warm key → ${served.map((r) => r.status).join(',')} (store round trips ${stats.httpRequests - 1}, the operator list's 1), ` +
        `operator credential → ${operator.status}, cold valid key → ${coldKey.status}, unknown key → ${unknownKey.status}, wrong operator token → ${wrongOperator.status}`,
    );
    expect(served.every((r) => r.status === 200)).toBe(true);
    expect(operator.status).toBe(200);
    // The operator's listing reads the dead letters once; the warm key needed nothing from the store.
    expect(stats.httpRequests).toBe(1);
    for (const refused of [coldKey, unknownKey, wrongOperator]) {
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    }
  });
});
