/**
 * Who may read the usage ledger, through the worker: a tenant's admin key reads its own usage and
 * nobody else's, the operator credential reads any tenant's and the raw export, an API key never
 * reaches the export, and bad bounds or groupings are a 400 naming the field.
 */
import { env, SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Bindings } from '../env';
import { BASE } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';
import { usageReport } from '../testing/usage';

const operator = (env as unknown as Bindings).OPERATOR_TOKEN;
const get = (path: string, credential: string | undefined) => SELF.fetch(`${BASE}${path}`, { headers: { authorization: `Bearer ${credential}` } });

describe('GET /v1/usage', () => {
  it("answers a tenant's admin key with its own usage only", async () => {
    const seeded = await seedTenantKey({ scopes: ['infer', 'admin'] });
    const other = await seedTenantKey();
    const own = await usageReport('key', { key: seeded.key });
    expect(own.tenant_id).toBe(seeded.tenant.tenantId);
    expect((await get(`/v1/usage?tenant=${other.tenant.tenantId}`, seeded.key)).status).toBe(403);
    const inferOnly = await get('/v1/usage', other.key);
    expect(inferOnly.status).toBe(403);
  });

  it('answers the operator credential for the tenant it names, and asks for one', async () => {
    const seeded = await seedTenantKey();
    const report = await usageReport('day', { tenantId: seeded.tenant.tenantId });
    expect(report.tenant_id).toBe(seeded.tenant.tenantId);
    const missing = await get('/v1/usage', operator);
    expect(missing.status).toBe(400);
    expect(JSON.stringify(await missing.json())).toContain('tenant');
  });

  it('refuses bad bounds and groupings with a 400 naming the field', async () => {
    const seeded = await seedTenantKey({ scopes: ['admin'] });
    for (const [query, field] of [
      ['from=yesterday', 'from'],
      ['group_by=week', 'group_by'],
      ['from=2026-12-02&to=2026-12-01', 'from'],
      ['from=2020-01-01&to=2026-12-01', 'to'],
    ] as const) {
      const res = await get(`/v1/usage?${query}`, seeded.key);
      expect(res.status, query).toBe(400);
      const body = (await res.json()) as { error: { code: string; details: { issues: Array<{ path: string }> } } };
      expect(body.error.code).toBe('INVALID_INPUT');
      expect(body.error.details.issues.map((i) => i.path).join(',')).toContain(field);
    }
  });
});

describe('GET /v1/admin/usage/export', () => {
  it('is for the operator credential only: an API key, even an admin one, is refused', async () => {
    const seeded = await seedTenantKey({ scopes: ['admin'] });
    expect((await get('/v1/admin/usage/export?from=2026-12-01&to=2026-12-01', seeded.key)).status).toBe(401);
    const ok = await get(`/v1/admin/usage/export?from=2026-12-01&to=2026-12-01&tenant=${seeded.tenant.tenantId}`, operator);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/x-ndjson');
    expect(await ok.text()).toBe('');
  });
});
