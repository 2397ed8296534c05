/**
 * Signed webhooks end to end through the real local stack (the edge in workerd with its queues,
 * Redis behind the bridge, the Lambda host and the model server, the EventBridge stand-in), as a
 * sender and an operator meet it: the `ingest` source's secret is read from stack.json and events
 * are signed with the `standardwebhooks` library. A `demo.summarize` event is accepted once and
 * becomes exactly one job of the dev tenant, whose result is readable by id; its replay with
 * unsigned headers changed is answered 200 with the first answer and starts no second job; an
 * `orders.*` event reaches the local bus as one entry; a bus outage dead-letters after the retries
 * and a redrive (`gw dlq redrive`) delivers it once; `gw webhook send --wait` shows the job's result.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { webhookEventSource } from '../../shared/contracts/events';
import { runCli } from '../../tools/cli/run';
import { LOCAL_ENDPOINT, startStack, type Stack } from '../../tools/stack/stack';

let stack: Stack;
let stateDir: string;
let info: {
  webhook: { source: string; scheme: string; secret: string; url: string };
  eventBridge: { url: string; bus: string; adminToken: string };
};

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'gw-e2e-webhooks-'));
  // Short queue backoff, so a rehearsed bus outage dead-letters in seconds rather than minutes.
  stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir, queueRetryBaseSeconds: 1 });
  info = JSON.parse(await readFile(join(stateDir, 'stack.json'), 'utf8'));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

const waitFor = (check: () => Promise<boolean>, timeout = 30_000) => vi.waitUntil(check, { timeout, interval: 250 });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Signs `event` as a Standard Webhooks sender does, with the secret from stack.json. */
function signed(event: { id: string; type: string; payload: unknown }, msgId = `msg_${event.id}`, at = new Date()) {
  const body = JSON.stringify(event);
  const headers = {
    'content-type': 'application/json',
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(info.webhook.secret).sign(msgId, at, body),
  };
  return { body, headers };
}

const send = (request: { body: string; headers: Record<string, string> }, extra: Record<string, string> = {}) =>
  fetch(info.webhook.url, { method: 'POST', headers: { ...request.headers, ...extra }, body: request.body });

const newEvent = (type: string, payload: unknown) => ({ id: `evt_${crypto.randomUUID().replaceAll('-', '')}`, type, payload });

const getJob = async (id: string) =>
  (await (await fetch(`${stack.gatewayUrl}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${stack.apiKey}` } })).json()) as {
    status: string;
    result?: { output: string };
    error?: unknown;
  };

async function bus<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${info.eventBridge.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${info.eventBridge.adminToken}`, 'content-type': 'application/json' },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}
const onBus = (type: string) =>
  bus<Array<{ source: string; detail: { webhook_id: string; event: { id: string } } }>>('GET', `/admin/events?detail-type=${type}`);

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCli(argv, { stdout: (t) => out.push(t), stderr: (t) => out.push(t), env: { STACK_STATE_DIR: stateDir } });
  return { code, out: out.join('') };
}

const succeededCalls = () => stack.modelServer.stats().byEndpoint[LOCAL_ENDPOINT]?.succeeded ?? 0;

describe('signed webhooks on the local stack', () => {
  it('describes its webhook source in stack.json: a Standard Webhooks source with a fresh whsec_ secret', () => {
    expect(info.webhook).toEqual({
      source: 'ingest',
      scheme: 'standard',
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
      url: `${stack.gatewayUrl}/webhooks/ingest`,
    });
  });

  it('turns a demo.summarize event into exactly one job readable by id, and answers its replay with the first answer', async () => {
    const text = 'Edge queues hold a burst of events so the model works through them at its own pace.';
    const event = newEvent('demo.summarize', { text });
    const request = signed(event);
    const before = succeededCalls();
    const first = await send(request);
    expect(first.status).toBe(202);
    const accepted = (await first.json()) as { job_id: string };
    expect(accepted).toMatchObject({ id: event.id, source: 'ingest', status: 'accepted', job_id: expect.stringMatching(/^job_[0-9a-f]{32}$/) });
    expect(['queued', 'running', 'succeeded']).toContain((await getJob(accepted.job_id)).status);

    const replays = [
      await send(request, { 'user-agent': 'replayer/1.0', 'idempotency-key': crypto.randomUUID() }),
      await send(request, { 'x-forwarded-for': '198.51.100.7', 'x-request-id': crypto.randomUUID() }),
    ];
    expect(replays.map((r) => r.status)).toEqual([200, 200]);
    for (const r of replays) expect(await r.json()).toEqual(accepted);

    let job = await getJob(accepted.job_id);
    await waitFor(async () => {
      job = await getJob(accepted.job_id);
      return job.status === 'succeeded' || job.status === 'failed';
    });
    expect(job.status).toBe('succeeded');
    await pause(2_500);
    const calls = succeededCalls() - before;
    // The same prompt through the sync route gives the same words: the template rendered it exactly.
    const sync = await fetch(`${stack.gatewayUrl}/v1/infer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', 'cache-control': 'no-cache' },
      body: JSON.stringify({ model: stack.model, prompt: `Summarize in one sentence: ${text}`, params: { max_tokens: 48 } }),
    });
    console.warn(`npm start webhook job: 202 then replays [${replays.map((r) => r.status)}]; job ${job.status}; ${calls} backend call(s) for it`);
    expect(((await sync.json()) as { output: string }).output).toBe(job.result?.output);
    expect(calls).toBe(1);
  });

  it('puts each orders.* event on the local bus exactly once', async () => {
    const type = `orders.created.${crypto.randomUUID().slice(0, 8)}`;
    const events = [newEvent(type, { order: 1 }), newEvent(type, { order: 2 }), newEvent(type, { order: 3 })];
    const statuses: number[] = [];
    for (const e of events) {
      const request = signed(e);
      statuses.push((await send(request)).status, (await send(request)).status);
    }
    expect(statuses).toEqual([202, 200, 202, 200, 202, 200]);
    await waitFor(async () => (await onBus(type)).length >= events.length);
    await pause(2_500);
    const entries = await onBus(type);
    const perEvent = events.map((e) => entries.filter((x) => x.detail.event.id === e.id).length);
    console.warn(`npm start eventbridge: entries per event ${JSON.stringify(perEvent)}`);
    expect(perEvent).toEqual([1, 1, 1]);
    expect(entries[0]?.source).toBe(webhookEventSource('ingest'));
  });

  it('dead-letters an event after a bus outage outlasts its retries, and `gw dlq redrive` delivers it once', async () => {
    const type = `orders.outage.${crypto.randomUUID().slice(0, 8)}`;
    const event = newEvent(type, { order: 'during the outage' });
    await bus('PUT', '/admin/config', { fault: 'unavailable' });
    try {
      expect((await send(signed(event))).status).toBe(202);
      let letter: { id: string; reason: string; attempts: number } | undefined;
      await waitFor(async () => {
        const { out } = await cli('--json', 'dlq', 'list');
        const letters = (JSON.parse(out) as { deadLetters: Array<{ id: string; reason: string; attempts: number; original: { event?: { id: string } } }> })
          .deadLetters;
        letter = letters.find((l) => l.original.event?.id === event.id);
        return letter !== undefined;
      }, 60_000);
      expect(letter).toMatchObject({ reason: 'PutEvents answered 503 ServiceUnavailable: Service is unavailable.', attempts: 3 });
      expect(await onBus(type)).toEqual([]);
      await bus('PUT', '/admin/config', { fault: null });
      const redrive = await cli('dlq', 'redrive', letter!.id);
      expect(redrive.code, redrive.out).toBe(0);
    } finally {
      await bus('PUT', '/admin/config', { fault: null });
    }
    await waitFor(async () => (await onBus(type)).length > 0);
    await pause(2_500);
    const entries = await onBus(type);
    console.warn(`npm start bus outage: dead-lettered after 3 attempts; after redrive ${entries.length} entry on the bus`);
    expect(entries.map((e) => e.detail.webhook_id)).toEqual([`msg_${event.id}`]);
  });

  it('`gw webhook send --wait` signs a demo event from stack.json and prints the job result', async () => {
    const { code, out } = await cli(
      '--json',
      'webhook',
      'send',
      '--source',
      'ingest',
      '--type',
      'demo.summarize',
      '--payload',
      '{"text":"Short and sweet."}',
      '--wait',
    );
    expect(code, out).toBe(0);
    const data = JSON.parse(out) as { status: number; jobId: string; job: { status: string; result: { output: string } } };
    expect(data.status).toBe(202);
    expect(data.job).toMatchObject({ id: data.jobId, status: 'succeeded' });
    expect(data.job.result.output.length).toBeGreaterThan(0);
  });
});
