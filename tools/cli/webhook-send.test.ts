/**
 * `gw webhook send` against a local HTTP server that verifies signatures with the edge's own code
 * (shared/crypto: Standard Webhooks and `t=,v1=`), dedupes on the delivery id and serves
 * `GET /v1/jobs/{id}`: both schemes are accepted, a wrong secret is refused (exit 1), the local
 * stack's stack.json supplies URL, secret and scheme without any store configured, a replay gets
 * the first answer, `--wait` polls until the job is done, and bad input exits 2 naming the flag.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateWebhookSecret, verifyStandardWebhook, verifyTimestampSignature } from '../../shared/crypto/hmac';
import { freePort, listen, readBody } from '../lib/net';
import { runCli } from './run';

const standardSecret = generateWebhookSecret();
const plainSecret = 'x-signature-test-secret';
const apiKey = 'gw_test_webhooksendtestkeywebhooksendtestkey000';

interface Received {
  readonly source: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: { id: string; type: string; payload: unknown };
}

let server: Server;
let baseUrl: string;
let stateDir: string;
/** A local stack's state directory: stack.json with the `ingest` source, the gateway and an API key. */
let stackDir: string;
let received: Received[];
const answers = new Map<string, unknown>();
/** Polls per job before it is done, and how it ends. */
const jobs = new Map<string, { polls: number; outcome: 'succeeded' | 'failed' }>();

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(',') : v;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const hook = /^\/webhooks\/([a-z0-9_-]+)$/.exec(url.pathname);
      if (req.method === 'POST' && hook) {
        const raw = new Uint8Array(await readBody(req, 1024 * 1024));
        const nowSeconds = Math.floor(Date.now() / 1000);
        const source = hook[1]!;
        const verdict =
          source === 'stripe'
            ? await verifyTimestampSignature({ header: header(req, 'stripe-signature'), body: raw, secrets: [plainSecret], nowSeconds })
            : source === 'legacy'
              ? await verifyTimestampSignature({ header: header(req, 'x-signature'), body: raw, secrets: [plainSecret], nowSeconds })
              : await verifyStandardWebhook({
                  id: header(req, 'webhook-id'),
                  timestamp: header(req, 'webhook-timestamp'),
                  signature: header(req, 'webhook-signature'),
                  body: raw,
                  secrets: [standardSecret],
                  nowSeconds,
                });
        if (!verdict.ok) return json(401, { success: false, error: { code: 'UNAUTHORIZED', message: `webhook signature: ${verdict.reason}` } });
        const body = JSON.parse(new TextDecoder().decode(raw)) as Received['body'];
        const deliveryId = `${source}:${header(req, 'webhook-id') ?? body.id}`;
        const first = answers.get(deliveryId);
        if (first) return json(200, first);
        received.push({ source, headers: req.headers, body });
        const jobId = `job_${body.id
          .replace(/[^A-Za-z0-9]/g, '')
          .slice(-24)
          .padStart(12, '0')}`;
        jobs.set(jobId, { polls: 2, outcome: body.type === 'demo.fail' ? 'failed' : 'succeeded' });
        const answer = { id: body.id, source, status: 'accepted', received_at: nowSeconds, job_id: jobId };
        answers.set(deliveryId, answer);
        return json(202, answer);
      }
      const job = /^\/v1\/jobs\/([A-Za-z0-9_]+)$/.exec(url.pathname);
      if (req.method === 'GET' && job) {
        if (header(req, 'authorization') !== `Bearer ${apiKey}`) return json(401, { success: false, error: { code: 'UNAUTHORIZED', message: 'bad key' } });
        const state = jobs.get(job[1]!);
        if (!state) return json(404, { success: false, error: { code: 'NOT_FOUND', message: 'no job' } });
        if (state.polls-- > 0) return json(200, { id: job[1], status: 'running' });
        return json(
          200,
          state.outcome === 'succeeded'
            ? { id: job[1], status: 'succeeded', result: { output: 'A short summary.' } }
            : { id: job[1], status: 'failed', error: { code: 'INVALID_INPUT', message: 'template did not render: the event has no payload.text' } },
        );
      }
      json(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
    })();
  });
  baseUrl = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1')}`;
  stateDir = await mkdtemp(join(tmpdir(), 'gw-webhook-send-'));
  stackDir = join(stateDir, 'stack');
  await mkdir(stackDir);
  await writeFile(
    join(stackDir, 'stack.json'),
    JSON.stringify({
      gatewayUrl: baseUrl,
      apiKey,
      webhook: { source: 'ingest', scheme: 'standard', secret: standardSecret, url: `${baseUrl}/webhooks/ingest` },
    }),
  );
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(stateDir, { recursive: true, force: true });
});
beforeEach(() => {
  received = [];
});

/** Runs the CLI with no store configured and stack.json read from `dir`. */
async function gw(argv: string[], dir = join(stateDir, 'none')) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), env: { STACK_STATE_DIR: dir } });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

describe('webhook send', () => {
  it('signs with the standardwebhooks library so the edge verifier accepts it, and prints the job id', async () => {
    const run = await gw([
      'webhook',
      'send',
      '--source',
      'ingest',
      '--type',
      'demo.summarize',
      '--payload',
      '{"text":"Quarterly numbers are up."}',
      '--url',
      `${baseUrl}/webhooks/ingest`,
      '--secret',
      standardSecret,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(received).toHaveLength(1);
    const [event] = received;
    expect(event?.body).toMatchObject({ type: 'demo.summarize', payload: { text: 'Quarterly numbers are up.' } });
    expect(event?.headers['webhook-id']).toBe(event?.body.id);
    expect(event?.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]{44}$/);
    expect(run.stdout).toMatch(/^Accepted: HTTP 202 from http:\/\/127\.0\.0\.1:\d+\/webhooks\/ingest \(standard, event evt_[0-9a-f]{32}\)$/m);
    expect(run.stdout).toMatch(/^job_id: job_[0-9a-f]{12,}$/m);
  });

  it('signs t=,v1= in X-Signature or a named header with --scheme x-signature', async () => {
    const legacy = await gw([
      'webhook',
      'send',
      '--source',
      'legacy',
      '--type',
      't',
      '--scheme',
      'x-signature',
      '--url',
      `${baseUrl}/webhooks/legacy`,
      '--secret',
      plainSecret,
    ]);
    expect(legacy.code, legacy.stderr).toBe(0);
    const stripe = await gw([
      'webhook',
      'send',
      '--source',
      'stripe',
      '--type',
      'invoice.paid',
      '--scheme',
      'x-signature',
      '--header',
      'Stripe-Signature',
      '--url',
      `${baseUrl}/webhooks/stripe`,
      '--secret',
      plainSecret,
    ]);
    expect(stripe.code, stripe.stderr).toBe(0);
    expect(received.map((r) => r.source)).toEqual(['legacy', 'stripe']);
    expect(received[1]?.headers['stripe-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('fails with exit 1 and the gateway’s reason when the signature is refused', async () => {
    const run = await gw(['webhook', 'send', '--source', 'ingest', '--type', 't', '--url', `${baseUrl}/webhooks/ingest`, '--secret', generateWebhookSecret()]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe('gw: the gateway answered 401: UNAUTHORIZED webhook signature: no_matching_signature\n');
    expect(received).toEqual([]);
  });

  it('takes source, URL, secret and scheme from stack.json, needs no store, and a replay gets the first answer', async () => {
    const dir = stackDir;
    const first = await gw(['webhook', 'send', '--type', 'demo.summarize', '--payload', '{"text":"hi"}', '--id', 'evt_replay_1', '--json'], dir);
    expect(first.code, first.stderr).toBe(0);
    const data = JSON.parse(first.stdout) as { status: number; jobId: string; answer: unknown };
    expect(data.status).toBe(202);
    const replay = await gw(['webhook', 'send', '--type', 'demo.summarize', '--payload', '{"text":"hi"}', '--id', 'evt_replay_1', '--json'], dir);
    expect(replay.code, replay.stderr).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ status: 200, jobId: data.jobId, answer: data.answer });
    expect(received).toHaveLength(1);
    // Another source than stack.json's: its secret is not used for it.
    const other = await gw(['webhook', 'send', '--source', 'stripe', '--type', 't'], dir);
    expect(other).toMatchObject({ code: 2, stderr: expect.stringContaining("no secret for source 'stripe'") });
  });

  it('--wait polls GET /v1/jobs/{id} with the key until the job is done, and fails with a failed job', async () => {
    const dir = stackDir;
    const done = await gw(['webhook', 'send', '--type', 'demo.summarize', '--payload', '{"text":"hi"}', '--wait'], dir);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^job job_\w+ succeeded:\nA short summary\.$/m);
    const failed = await gw(['webhook', 'send', '--type', 'demo.fail', '--wait', '--key', apiKey], dir);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^gw: job job_\w+ failed: INVALID_INPUT template did not render: the event has no payload\.text$/m);
    const badKey = await gw(['webhook', 'send', '--type', 'demo.summarize', '--wait', '--key', 'gw_test_wrong'], dir);
    expect(badKey).toMatchObject({ code: 1, stderr: expect.stringContaining('answered 401: UNAUTHORIZED bad key') });
  });

  it('refuses bad input with exit 2, naming the flag', async () => {
    const base = ['webhook', 'send', '--source', 'ingest', '--url', `${baseUrl}/webhooks/ingest`, '--secret', standardSecret];
    const cases: [string[], RegExp][] = [
      [[...base], /--type is required/],
      [[...base, '--type', 't', '--payload', '{oops'], /--payload is not valid JSON/],
      [[...base, '--type', 't', '--scheme', 'hmac'], /unknown scheme 'hmac' \(expected standard or x-signature\)/],
      [[...base, '--type', 't', '--url', 'ftp://x'], /--url is not an http\(s\) URL/],
      [[...base, '--type', 't', '--secret', 'not-whsec'], /not a Standard Webhooks secret/],
      [[...base, '--type', 't', '--timeout', 'soon'], /invalid duration 'soon' for --timeout/],
      [['webhook', 'send', '--type', 't'], /--source is required/],
    ];
    for (const [argv, message] of cases) {
      const run = await gw(argv);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stderr).toMatch(message);
    }
    expect(received).toEqual([]);
  });

  it('says when the gateway cannot be reached', async () => {
    const closed = await freePort();
    const run = await gw([
      'webhook',
      'send',
      '--source',
      'ingest',
      '--type',
      't',
      '--url',
      `http://127.0.0.1:${closed}/webhooks/ingest`,
      '--secret',
      standardSecret,
    ]);
    expect(run).toMatchObject({ code: 1, stderr: `gw: cannot reach http://127.0.0.1:${closed} (ECONNREFUSED) (is the local stack running? npm start)\n` });
  });
});
