/**
 * The CLI on bad input, in-process against the real bridge: every rejection exits non-zero (2 for
 * bad usage, 1 for a failure) with exactly one line on stderr, never a stack trace, and one JSON
 * line with `--json`. Also help, which goes to stdout and exits 0 when asked for.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../lib/net';
import { testTenants, type TestTenants } from '../tenancy/testing';
import { startTestBridge, type TestBridge } from '../upstash-bridge/testing';
import { runCli } from './run';

let tb: TestBridge;
let tenants: TestTenants;
let env: Record<string, string>;
let emptyDir: string;
let tenantId: string;
let keyId: string;

async function gwWith(runEnv: Record<string, string>, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: runEnv });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

beforeAll(async () => {
  tb = await startTestBridge();
  tenants = testTenants(tb.direct);
  env = { UPSTASH_REDIS_REST_URL: tb.bridge.url, UPSTASH_REDIS_REST_TOKEN: tb.token };
  emptyDir = await mkdtemp(join(tmpdir(), 'gw-cli-'));
  tenantId = tenants.id('bad');
  expect((await gwWith(env, ['tenant', 'create', '--name', 'Bad input', '--plan', 'free', '--id', tenantId])).code).toBe(0);
  const key = await gwWith(env, ['key', 'create', tenantId, '--json']);
  keyId = (JSON.parse(key.stdout) as { key: { keyId: string } }).key.keyId;
});
afterAll(async () => {
  await rm(emptyDir, { recursive: true, force: true });
  await tenants.cleanup();
  await tb.close();
});

const T = '<tenant>';
const K = '<key>';
const usage: [string, string[], RegExp][] = [
  ['no command', [], /^Usage: npm run gw/m],
  ['unknown group', ['tenants', 'list'], /unknown command 'tenants'/],
  ['unknown action', ['tenant', 'frobnicate'], /unknown command 'tenant frobnicate'/],
  ['unknown option', ['tenant', 'list', '--all'], /tenant list: Unknown option '--all'/],
  ['unknown global option', ['--verbose', 'tenant', 'list'], /unknown option '--verbose'/],
  ['missing option', ['tenant', 'create', '--plan', 'pro'], /--name is required/],
  ['option without value', ['tenant', 'create', '--name'], /--name <value>' argument missing/],
  ['bad plan', ['tenant', 'create', '--name', 'x', '--plan', 'gold'], /unknown plan 'gold' \(expected free, pro, enterprise\)/],
  ['bad tenant id', ['tenant', 'create', '--name', 'x', '--plan', 'pro', '--id', 'Acme!'], /invalid tenant id 'Acme!'/],
  ['blank name', ['tenant', 'create', '--name', '  ', '--plan', 'pro'], /--name must be 1–128 printable characters/],
  ['http callback', ['tenant', 'create', '--name', 'x', '--plan', 'pro', '--callback-url', 'http://example.com/cb'], /must use https/],
  ['callback with credentials', ['tenant', 'create', '--name', 'x', '--plan', 'pro', '--callback-url', 'https://u:p@example.com'], /credentials/],
  ['missing positional', ['tenant', 'show'], /tenant show: missing TENANT_ID/],
  ['extra positional', ['tenant', 'show', T, 'more'], /unexpected argument 'more'/],
  ['bad plan to set-plan', ['tenant', 'set-plan', T, 'platinum'], /unknown plan 'platinum'/],
  ['no override', ['tenant', 'set-overrides', T], /nothing to change/],
  ['negative override', ['tenant', 'set-overrides', T, '--max-tokens=-5'], /--max-tokens must be a positive whole number, got '-5'/],
  ['non-numeric override', ['tenant', 'set-overrides', T, '--requests-per-minute', 'lots'], /--requests-per-minute must be a positive whole number/],
  ['bad priority', ['tenant', 'set-overrides', T, '--priority', 'urgent'], /unknown priority 'urgent'/],
  ['empty model list', ['tenant', 'set-overrides', T, '--allowed-models', ','], /--allowed-models needs at least one model/],
  ['unknown unset', ['tenant', 'set-overrides', T, '--unset', 'colour'], /--unset: unknown override 'colour'/],
  ['callback URL and --clear', ['tenant', 'set-callback-url', T, 'https://x.example', '--clear'], /either a URL or --clear/],
  ['bad scope', ['key', 'create', T, '--scopes', 'infer,root'], /unknown scope 'root' \(expected infer, jobs, webhooks:ingest, admin\)/],
  ['empty scopes', ['key', 'create', T, '--scopes', ''], /--scopes needs at least one/],
  ['bad mode', ['key', 'create', T, '--mode', 'prod'], /unknown key mode 'prod'/],
  ['bad duration', ['key', 'create', T, '--expires-in', '30 days'], /invalid duration '30 days' for --expires-in/],
  ['zero expiry', ['key', 'create', T, '--expires-in', '0'], /invalid duration '0'/],
  ['huge duration', ['key', 'create', T, '--expires-in', '5000d'], /longer than ten years/],
  ['bad grace', ['key', 'rotate', K, '--grace', '1 hour'], /invalid duration '1 hour' for --grace/],
  ['bad key id', ['key', 'revoke', 'gw_test_secret'], /invalid key id 'gw_test_secret'/],
];

const failures: [string, string[], RegExp][] = [
  ['unknown tenant', ['tenant', 'show', 'ten_doesnotexist0000'], /^gw: no tenant ten_doesnotexist0000\n$/],
  ['unknown tenant for set-plan', ['tenant', 'suspend', 'ten_doesnotexist0000'], /no tenant ten_doesnotexist0000/],
  ['unknown tenant for a key', ['key', 'create', 'ten_doesnotexist0000'], /no tenant ten_doesnotexist0000/],
  ['existing tenant id', ['tenant', 'create', '--name', 'again', '--plan', 'pro', '--id', T], /tenant t-bad-\w+ already exists/],
  ['unknown key', ['key', 'revoke', 'key_live_00000000000000000000'], /no key key_live_00000000000000000000/],
  ['unknown key to rotate', ['key', 'rotate', 'key_test_00000000000000000000'], /no key key_test_00000000000000000000/],
];

const fill = (argv: string[]) => argv.map((a) => (a === T ? tenantId : a === K ? keyId : a));

function expectOneLine(stderr: string) {
  expect(stderr.endsWith('\n')).toBe(true);
  expect(stderr.trimEnd()).not.toContain('\n');
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('bad usage exits 2 with one line', () => {
  it.each(usage.filter(([name]) => name !== 'no command'))('%s', async (_name, argv, reason) => {
    const run = await gwWith(env, fill(argv));
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^gw: /);
    expect(run.stderr).toMatch(reason);
    expectOneLine(run.stderr);
  });

  it('prints the overview to stderr for no command', async () => {
    const run = await gwWith(env, []);
    expect(run).toMatchObject({ code: 2, stdout: '' });
    expect(run.stderr).toMatch(/^Usage: npm run gw/m);
  });
});

describe('failures exit 1 with one line', () => {
  it.each(failures)('%s', async (_name, argv, reason) => {
    const run = await gwWith(env, fill(argv));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(reason);
    expectOneLine(run.stderr);
  });

  it('says when no store is configured', async () => {
    const run = await gwWith({ STACK_STATE_DIR: emptyDir }, ['tenant', 'list']);
    expect(run).toMatchObject({
      code: 1,
      stderr: 'gw: no store configured: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or start the local stack (npm start)\n',
    });
    expect((await gwWith({ UPSTASH_REDIS_REST_URL: tb.bridge.url }, ['tenant', 'list'])).stderr).toMatch(/UPSTASH_REDIS_REST_TOKEN is not/);
    expect((await gwWith({ UPSTASH_REDIS_REST_URL: 'redis://x', UPSTASH_REDIS_REST_TOKEN: 't' }, ['tenant', 'list'])).stderr).toMatch(/not an http\(s\) URL/);
  });

  it('reads the bridge from stack.json, and says what is missing there', async () => {
    const stackDir = await mkdtemp(join(tmpdir(), 'gw-cli-stack-'));
    const stackJson = join(stackDir, 'stack.json');
    await writeFile(stackJson, JSON.stringify({ components: { bridge: tb.bridge.url } }));
    const noToken = await gwWith({ STACK_STATE_DIR: stackDir }, ['tenant', 'show', tenantId]);
    expect(noToken).toMatchObject({
      code: 1,
      stderr: `gw: ${stackJson} has no bridgeToken: restart the local stack, or set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN\n`,
    });
    await writeFile(stackJson, JSON.stringify({ components: { bridge: tb.bridge.url }, bridgeToken: tb.token }));
    expect(await gwWith({ STACK_STATE_DIR: stackDir }, ['tenant', 'show', tenantId])).toMatchObject({ code: 0, stderr: '' });
    await writeFile(stackJson, '{not json');
    expect((await gwWith({ STACK_STATE_DIR: stackDir }, ['tenant', 'list'])).stderr).toBe(`gw: ${stackJson} is not valid JSON\n`);
    await rm(stackDir, { recursive: true, force: true });
  });

  it('says when the store is unreachable or refuses the token', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const down = await gwWith({ UPSTASH_REDIS_REST_URL: closed, UPSTASH_REDIS_REST_TOKEN: 't' }, ['tenant', 'list']);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`^gw: cannot reach the store at ${closed}( \\(ECONNREFUSED\\))?\\n$`));
    const wrong = await gwWith({ UPSTASH_REDIS_REST_URL: tb.bridge.url, UPSTASH_REDIS_REST_TOKEN: 'wrong' }, ['tenant', 'list']);
    expect(wrong).toMatchObject({ code: 1, stderr: `gw: the store at ${tb.bridge.url} rejected the token (from environment)\n` });
  });
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

describe('a store that misbehaves', () => {
  it('gives up after GW_STORE_TIMEOUT_MS when the store accepts but never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => sockets.push(socket));
    const url = await listen(silent);
    const started = Date.now();
    const run = await gwWith({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: 't', GW_STORE_TIMEOUT_MS: '300' }, ['tenant', 'list']);
    expect(run).toMatchObject({ code: 1, stderr: `gw: the store at ${url} did not answer within 300 ms\n` });
    expect(Date.now() - started).toBeLessThan(3_000);
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('says when the URL answers but is not an Upstash REST API', async () => {
    const other = createHttpServer((_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>'));
    const url = await listen(other);
    const run = await gwWith({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: 't' }, ['tenant', 'list']);
    expect(run).toMatchObject({ code: 1, stderr: `gw: the store at ${url} answered with an error that is not the Upstash REST API's (check the URL)\n` });
    await new Promise((resolve) => other.close(resolve));
  });

  it('rejects a bad GW_STORE_TIMEOUT_MS', async () => {
    const run = await gwWith({ ...env, GW_STORE_TIMEOUT_MS: 'soon' }, ['tenant', 'list']);
    expect(run).toMatchObject({ code: 1, stderr: 'gw: GW_STORE_TIMEOUT_MS must be a positive whole number of milliseconds\n' });
  });
});

describe('--json errors', () => {
  it('prints one JSON line with a code on stderr', async () => {
    const usageRun = await gwWith(env, ['key', 'create', tenantId, '--scopes', 'root', '--json']);
    expect(usageRun.code).toBe(2);
    expect(JSON.parse(usageRun.stderr)).toEqual({ error: { code: 'USAGE', message: expect.stringMatching(/unknown scope 'root'/) } });
    const missing = await gwWith(env, ['--json', 'tenant', 'show', 'ten_doesnotexist0000']);
    expect(JSON.parse(missing.stderr)).toEqual({ error: { code: 'NOT_FOUND', message: 'no tenant ten_doesnotexist0000' } });
    const noStore = await gwWith({ STACK_STATE_DIR: emptyDir }, ['tenant', 'list', '--json']);
    expect(JSON.parse(noStore.stderr)).toMatchObject({ error: { code: 'STORE_CONFIG' } });
  });
});

describe('help', () => {
  it.each([
    [['--help'], /^gw: manage/],
    [['help'], /^gw: manage/],
    [['tenant', '--help'], /^Usage:\n {2}npm run gw -- tenant create/],
    [['tenant', 'create', '--help'], /^Usage: npm run gw -- tenant create --name NAME --plan PLAN/],
    [['help', 'key', 'rotate'], /^Usage: npm run gw -- key rotate KEY_ID/],
    [['key', 'rotate', '-h'], /--grace defaults to 24h/],
  ])('%j prints help to stdout and exits 0', async (argv, text) => {
    const run = await gwWith({}, argv);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(text);
  });
});
