/**
 * The CLI's operator commands: `operator token` makes credentials no API key can equal, with no
 * store configured; `dlq list|redrive` send the operator credential (from GW_OPERATOR_TOKEN or the
 * local stack's stack.json) to the gateway's operator routes and refuse an API key in its place.
 * The gateway here is a recording HTTP server: tenant isolation itself is proven in workerd
 * (edge/routes/dead-letters.test.ts); this checks what the CLI puts on the wire.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, OPERATOR_TOKEN_PATTERN } from '../../shared/contracts/tenancy';
import { generateApiKey, generateOperatorToken } from '../tenancy/keys';
import { runCli } from './run';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly authorization: string | undefined;
  readonly body: string;
}

let server: Server;
let gatewayUrl: string;
let stateDir: string;
const seen: Seen[] = [];
let answer: { status: number; body: unknown } = { status: 200, body: {} };

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  server = createServer((req, res) => {
    void bodyOf(req).then((body) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  gatewayUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  stateDir = await mkdtemp(join(tmpdir(), 'gw-cli-operator-'));
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(stateDir, { recursive: true, force: true });
});
beforeEach(() => {
  seen.length = 0;
  answer = { status: 200, body: {} };
});

/** Runs the CLI with exactly this environment: no store configured, no stack unless the test writes one. */
async function gw(env: Record<string, string>, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: { STACK_STATE_DIR: '/nonexistent', ...env } });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const letter = {
  id: 'msg-1',
  tenantId: 'ten_acme',
  kind: 'dead-letter',
  original: { kind: 'job', jobId: 'job_1', tenantId: 'ten_acme', priority: 'standard' },
  reason: 'UPSTREAM_ERROR: down',
  attempts: 3,
  failedAt: Date.UTC(2030, 0, 1),
};

describe('operator token', () => {
  it('prints a fresh credential that no API key can equal, without any store configured', async () => {
    const first = await gw({}, '--json', 'operator', 'token');
    const second = await gw({}, '--json', 'operator', 'token');
    expect(first.code).toBe(0);
    const token = (JSON.parse(first.stdout) as { operatorToken: string }).operatorToken;
    expect(token).toMatch(OPERATOR_TOKEN_PATTERN);
    expect(token).not.toMatch(API_KEY_PATTERN);
    expect(token).not.toBe((JSON.parse(second.stdout) as { operatorToken: string }).operatorToken);
    // The two formats are disjoint: no key of either mode ever matches the operator pattern.
    for (let i = 0; i < 200; i++) {
      expect(generateApiKey(i % 2 === 0 ? 'live' : 'test')).not.toMatch(OPERATOR_TOKEN_PATTERN);
      expect(generateOperatorToken()).not.toMatch(API_KEY_PATTERN);
    }
    expect((await gw({}, 'operator', 'token')).stdout).toMatch(/wrangler secret put OPERATOR_TOKEN/);
  });
});

describe('dlq', () => {
  it('lists every letter through the operator route with the operator credential from the environment', async () => {
    const token = generateOperatorToken();
    answer = { status: 200, body: { dead_letters: [letter] } };
    const run = await gw({ GW_OPERATOR_TOKEN: token, GW_GATEWAY_URL: gatewayUrl }, 'dlq', 'list', '--tenant', 'ten_acme');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/msg-1\s+ten_acme\s+job\s+job_1\s+3/);
    expect(seen).toEqual([{ method: 'GET', url: '/v1/operator/dlq?tenant=ten_acme', authorization: `Bearer ${token}`, body: '' }]);
  });

  it("takes the gateway and the credential from the local stack's stack.json", async () => {
    const token = generateOperatorToken();
    await writeFile(join(stateDir, 'stack.json'), JSON.stringify({ gatewayUrl, operatorToken: token }));
    answer = { status: 200, body: { redriven: ['msg-1'] } };
    const run = await gw({ STACK_STATE_DIR: stateDir }, 'dlq', 'redrive', 'msg-1');
    expect(run).toMatchObject({ code: 0, stdout: 'Redrove 1 dead letter(s).\n' });
    expect(seen).toEqual([{ method: 'POST', url: '/v1/operator/dlq/redrive', authorization: `Bearer ${token}`, body: '{"ids":["msg-1"]}' }]);
  });

  it("reports the gateway's refusal in one line with exit status 1", async () => {
    answer = { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no dead letter msg-9; nothing was redriven' } } };
    const run = await gw({ GW_OPERATOR_TOKEN: generateOperatorToken(), GW_GATEWAY_URL: gatewayUrl }, '--json', 'dlq', 'redrive', 'msg-9');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stderr)).toEqual({ error: { code: 'NOT_FOUND', message: 'the gateway answered 404: no dead letter msg-9; nothing was redriven' } });
    const down = await gw({ GW_OPERATOR_TOKEN: generateOperatorToken(), GW_GATEWAY_URL: 'http://127.0.0.1:1' }, 'dlq', 'list');
    expect(down).toMatchObject({ code: 1, stderr: 'gw: the gateway at http://127.0.0.1:1 is unreachable\n' });
  });

  it('refuses to run without the operator credential, with an API key in its place, without a gateway, or without an ID', async () => {
    expect((await gw({ GW_GATEWAY_URL: gatewayUrl }, 'dlq', 'list')).stderr).toMatch(/GW_OPERATOR_TOKEN/);
    const withKey = await gw({ GW_OPERATOR_TOKEN: generateApiKey('live'), GW_GATEWAY_URL: gatewayUrl }, 'dlq', 'list');
    expect(withKey).toMatchObject({ code: 2 });
    expect(withKey.stderr).toMatch(/an API key never is one/);
    expect((await gw({ GW_OPERATOR_TOKEN: generateOperatorToken() }, 'dlq', 'list')).stderr).toMatch(/no gateway/);
    expect((await gw({ GW_OPERATOR_TOKEN: generateOperatorToken(), GW_GATEWAY_URL: gatewayUrl }, 'dlq', 'redrive')).code).toBe(2);
    expect(seen).toEqual([]);
  });
});
