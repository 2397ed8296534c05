/**
 * `tenant webhook-secret create|rotate|drop-previous` against the real bridge and Redis: the secret
 * lands on the tenant record as the edge reads it, and a rotation keeps both (deliveries verify
 * with either).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { storeKeys, TenantRecordSchema } from '../../shared/contracts/tenancy';
import { signStandardWebhook } from '../../shared/crypto/hmac';
import { testTenants, type TestTenants } from '../tenancy/testing';
import { startTestBridge, type TestBridge } from '../upstash-bridge/testing';
import { runCli } from './run';

let tb: TestBridge;
let tenants: TestTenants;
let env: Record<string, string>;

beforeAll(async () => {
  tb = await startTestBridge();
  tenants = testTenants(tb.direct);
  env = { UPSTASH_REDIS_REST_URL: tb.bridge.url, UPSTASH_REDIS_REST_TOKEN: tb.token };
});
afterAll(async () => {
  await tenants.cleanup();
  await tb.close();
});

async function gw(runEnv: Record<string, string>, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: runEnv });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const stored = async (id: string) => TenantRecordSchema.parse(JSON.parse((await tb.direct.get(storeKeys.tenant(id))) ?? 'null'));

describe('tenant webhook-secret', () => {
  it('creates, rotates (both sign) and drops the previous secret', async () => {
    const id = tenants.id('whsec');
    expect((await gw(env, 'tenant', 'create', '--name', 'Hooks', '--plan', 'pro', '--id', id)).code).toBe(0);

    const created = await gw(env, '--json', 'tenant', 'webhook-secret', 'create', id);
    expect(created.code).toBe(0);
    const first = (JSON.parse(created.stdout) as { webhookSecret: string }).webhookSecret;
    expect(first).toMatch(/^whsec_/);
    expect((await stored(id)).webhookSecrets).toEqual([first]);
    expect((await gw(env, 'tenant', 'webhook-secret', 'create', id)).code).toBe(1);

    const rotated = await gw(env, '--json', 'tenant', 'webhook-secret', 'rotate', id);
    const second = (JSON.parse(rotated.stdout) as { webhookSecret: string }).webhookSecret;
    const record = await stored(id);
    expect(record.webhookSecrets).toEqual([second, first]);
    // What the delivery consumer sends during the rotation verifies with either secret.
    const body = '{"type":"job.succeeded"}';
    const headers = await signStandardWebhook(record.webhookSecrets ?? [], 'msg_x', Math.floor(Date.now() / 1000), body);
    expect(new Webhook(first).verify(body, headers)).toBeTruthy();
    expect(new Webhook(second).verify(body, headers)).toBeTruthy();

    expect((await gw(env, 'tenant', 'webhook-secret', 'drop-previous', id)).code).toBe(0);
    expect((await stored(id)).webhookSecrets).toEqual([second]);
    expect((await gw(env, 'tenant', 'webhook-secret', 'drop-previous', id)).code).toBe(1);
  });

  it('refuses an unknown action and an unknown tenant', async () => {
    expect((await gw(env, 'tenant', 'webhook-secret', 'delete', 'ten_nobody')).code).toBe(2);
    const missing = await gw(env, 'tenant', 'webhook-secret', 'create', tenants.id('missing'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no tenant/);
  });
});
