/**
 * The CLI's real entry as a child process (`node --import tsx tools/cli/main.ts`, what
 * `npm run gw --` runs): exit statuses, stdout/stderr, the once-printed key, the store taken from
 * the environment or from the local stack's stack.json, and a prompt exit when the store is down.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, ApiKeyRecordSchema, storeKeys } from '../../shared/contracts/tenancy';
import { sha256Hex } from '../../shared/crypto/hash';
import { freePort } from '../lib/net';
import { testTenants, type TestTenants } from '../tenancy/testing';
import { startTestBridge, type TestBridge } from '../upstash-bridge/testing';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

let tb: TestBridge;
let tenants: TestTenants;
let stackDir: string;

interface Exit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs the entry with exactly this environment (plus PATH), never the developer's store settings. */
function gw(env: Record<string, string>, ...argv: string[]): Promise<Exit> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'tools/cli/main.ts', ...argv],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      },
    );
  });
}

beforeAll(async () => {
  tb = await startTestBridge();
  tenants = testTenants(tb.direct);
  stackDir = await mkdtemp(join(tmpdir(), 'gw-cli-main-'));
  // What the local stack writes, with the bridge token the CLI needs.
  await writeFile(join(stackDir, 'stack.json'), JSON.stringify({ components: { bridge: tb.bridge.url }, bridgeToken: tb.token }));
});
afterAll(async () => {
  await rm(stackDir, { recursive: true, force: true });
  await tenants.cleanup();
  await tb.close();
});

describe('npm run gw (the real entry)', () => {
  it('creates a tenant and a key through the stack.json of the running local stack', async () => {
    const env = { STACK_STATE_DIR: stackDir };
    const id = tenants.id('main');
    const created = await gw(env, 'tenant', 'create', '--name', 'Entry', '--plan', 'enterprise', '--id', id);
    expect(created).toMatchObject({ code: 0, stdout: `Created tenant ${id} (Entry, plan enterprise).\n`, stderr: '' });

    const key = await gw(env, 'key', 'create', id, '--scopes', 'infer,jobs', '--json');
    expect(key).toMatchObject({ code: 0, stderr: '' });
    const { apiKey, key: view } = JSON.parse(key.stdout) as { apiKey: string; key: { keyId: string } };
    expect(apiKey).toMatch(API_KEY_PATTERN);
    // The edge looks the key up by its SHA-256: the record there is the one the CLI reported.
    const stored = ApiKeyRecordSchema.parse(JSON.parse((await tb.direct.get(storeKeys.apiKey(await sha256Hex(apiKey)))) ?? 'null'));
    expect(stored).toMatchObject({ keyId: view.keyId, tenantId: id, scopes: ['infer', 'jobs'], status: 'active' });

    const show = await gw({ UPSTASH_REDIS_REST_URL: tb.bridge.url, UPSTASH_REDIS_REST_TOKEN: tb.token }, 'tenant', 'show', id);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(view.keyId);
    expect(show.stdout).not.toContain(apiKey);
  });

  it('exits 2 with one line on bad usage and 1 with one line on an unknown tenant', async () => {
    const env = { STACK_STATE_DIR: stackDir };
    const bad = await gw(env, 'tenant', 'create', '--name', 'x', '--plan', 'gold');
    expect(bad).toMatchObject({ code: 2, stdout: '', stderr: "gw: unknown plan 'gold' (expected free, pro, enterprise)\n" });
    const unknown = await gw(env, 'key', 'list', 'ten_doesnotexist0000');
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'gw: no tenant ten_doesnotexist0000\n' });
  });

  it('exits 1 at once, without a stack trace, when the store is not configured or down', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'gw-cli-empty-'));
    const none = await gw({ STACK_STATE_DIR: empty }, 'tenant', 'list');
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toMatch(/^gw: no store configured: .*\n$/);
    await rm(empty, { recursive: true, force: true });

    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = await gw({ UPSTASH_REDIS_REST_URL: closed, UPSTASH_REDIS_REST_TOKEN: 'token' }, 'tenant', 'list');
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`^gw: cannot reach the store at ${closed}.*\\n$`));
    expect(down.stderr).not.toMatch(/\n\s+at /);
    expect(down.ms).toBeLessThan(10_000);
  });

  it('prints help on stdout with --help and exits 0', async () => {
    const help = await gw({}, '--help');
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('tenant create --name NAME --plan PLAN');
    expect(help.stdout).toContain('key rotate KEY_ID [--grace DURATION]');
  });
});
