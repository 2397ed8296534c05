/**
 * The per-IP flood guard in workerd: past the limit of failed authentications, an address gets 429
 * with Retry-After before any key lookup (zero Redis calls, counted at the bridge); other addresses
 * and valid keys are unaffected.
 */
import { createExecutionContext, env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../app';
import { BASE, bridgeQuiet, bridgeStats, resetBridgeStats } from '../testing/gateway-client';

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
});
