/**
 * The CLI's usage commands: what `usage [TENANT]` and `usage export` put on the wire (the operator
 * credential, the range and grouping as query parameters) and how they print the answer. The
 * gateway here is a recording HTTP server; the routes themselves are proven in workerd
 * (edge/queues/usage-ledger.test.ts).
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageReport } from '../../shared/contracts/usage';
import { generateOperatorToken } from '../tenancy/keys';
import { runCli } from './run';

let server: Server;
let gatewayUrl: string;
const seen: Array<{ url: string; authorization: string | undefined }> = [];
let answer: { type: string; body: string } = { type: 'application/json', body: '{}' };
const token = generateOperatorToken();

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    res.writeHead(200, { 'content-type': answer.type }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  gatewayUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));
beforeEach(() => {
  seen.length = 0;
});

async function gw(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const env = { STACK_STATE_DIR: '/nonexistent', GW_OPERATOR_TOKEN: token, GW_GATEWAY_URL: gatewayUrl };
  const code = await runCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

const report: UsageReport = {
  tenant_id: 'ten_acme',
  from: '2026-12-01T00:00:00.000Z',
  to: '2026-12-02T23:59:59.999Z',
  group_by: 'model',
  currency: 'USD',
  rows: [
    {
      group: 'llama',
      requests: 3,
      prompt_tokens: 40,
      completion_tokens: 12,
      backend_prompt_tokens: 30,
      backend_completion_tokens: 8,
      cache_hits: 1,
      cost_micros: 1_234,
    },
  ],
};

describe('usage', () => {
  it('prints a tenant’s usage by model as a table, asking with the operator credential', async () => {
    answer = { type: 'application/json', body: JSON.stringify(report) };
    const run = await gw('usage', 'ten_acme', '--from', '2026-12-01', '--to', '2026-12-02', '--by', 'model');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(seen[0]?.authorization).toBe(`Bearer ${token}`);
    const url = new URL(seen[0]?.url ?? '', gatewayUrl);
    expect(url.pathname).toBe('/v1/usage');
    expect(Object.fromEntries(url.searchParams)).toEqual({ from: '2026-12-01', to: '2026-12-02', group_by: 'model', tenant: 'ten_acme' });
    expect(run.stdout).toMatch(/MODEL\s+REQUESTS\s+TOKENS IN\s+TOKENS OUT\s+CACHE HITS\s+COST \(USD\)/);
    expect(run.stdout).toMatch(/llama\s+3\s+40\s+12\s+1\s+0\.001234/);
  });

  it('refuses a date that is neither YYYY-MM-DD nor ISO, before calling the gateway', async () => {
    const run = await gw('usage', 'ten_acme', '--from', 'yesterday');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("--from 'yesterday'");
    expect(seen).toHaveLength(0);
  });

  it('writes the export as NDJSON on stdout', async () => {
    const lines = [{ record_id: 'a' }, { record_id: 'b' }].map((r) => JSON.stringify(r));
    answer = { type: 'application/x-ndjson', body: `${lines.join('\n')}\n` };
    const run = await gw('usage', 'export', '--from', '2026-12-01T00:00:00Z', '--to', '2026-12-02');
    expect(run.code).toBe(0);
    expect(new URL(seen[0]?.url ?? '', gatewayUrl).pathname).toBe('/v1/admin/usage/export');
    expect(run.stdout).toBe(`${lines.join('\n')}\n`);
  });

  it('needs --from and --to for an export', async () => {
    const run = await gw('usage', 'export', '--from', '2026-12-01');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('--to is required');
  });
});
