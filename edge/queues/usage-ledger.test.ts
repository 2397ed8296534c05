/**
 * The usage ledger's guarantee, against the real components (the worker in workerd, miniflare's
 * usage queue and R2 bucket, Redis behind the bridge, the reference model server): after a mixed
 * run the ledger holds exactly one record per request (the client's X-Request-ID is its
 * request_id), the backend tokens equal the model server's own counts (embeddings calls included;
 * a stream the client left never more than the server generated), hits and replays carry no
 * backend tokens, a consumer failure's redelivery changes nothing, and the aggregates are the sum
 * of the raw records.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it, vi } from 'vitest';
import type { UsageRecord, UsageReport } from '../../shared/contracts/usage';
import { createApp } from '../app';
import { post } from '../testing/gateway-client';
import { routeStats, TEI_MODEL } from '../testing/embeddings';
import { ecs, gateway, sm, tableFor } from '../testing/routes';
import { consumer, setStackBridgeFaults } from '../testing/queue-consumer';
import { seedTenantKey } from '../testing/seed';
import { exportedRecords, storedCopies, usageReport } from '../testing/usage';

// A container that reports its own prompt tokens (the TGI format does not: its adapter estimates them).
const model = 'mistral-7b-instruct-lmi';
// A chat model on another container, for the streams a client leaves (the server counts it apart).
const ABORT_MODEL = 'llama-3.1-8b-vllm';
const modelServer = inject('modelServerUrl');

interface ServerCounters {
  readonly promptTokens: number;
  readonly tokensGenerated: number;
  readonly invocations: number;
  readonly cancelled: number;
}
interface ServerStats {
  readonly inFlight: number;
  readonly totals: ServerCounters;
  readonly byRoute: Record<string, ServerCounters | undefined>;
  readonly byEndpoint: Record<string, ServerCounters | undefined>;
}
const serverStats = async (): Promise<ServerStats> => (await (await fetch(`${modelServer}/admin/stats`)).json()) as ServerStats;
const serverTotals = async () => {
  const stats = await serverStats();
  return { ...stats.totals, inFlight: stats.inFlight };
};
const modelReset = () => fetch(`${modelServer}/admin/reset`, { method: 'POST' });
const modelConfig = (config: Record<string, unknown>) =>
  fetch(`${modelServer}/admin/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });

const call = async (key: string, id: string) => {
  const res = await post('/v1/infer', key, { model, prompt: 'recorded', params: { max_tokens: 3 } }, { 'x-request-id': id });
  await res.text();
  return res.status;
};

const sum = (records: readonly UsageRecord[], field: keyof UsageRecord) => records.reduce((total, r) => total + Number(r[field]), 0);

afterEach(async () => {
  await setStackBridgeFaults({ fault: null, latencyMs: 0 });
  await modelReset();
});

describe('usage ledger accuracy', () => {
  it('records every request once, with the backend tokens the model server counted, across a redelivery', async () => {
    const seeded = await seedTenantKey({ scopes: ['infer', 'jobs', 'admin'] });
    const key = seeded.key;
    const sent: string[] = [];
    let n = 0;
    // Each answer is read in full, as a client does (an unread body would hold its idempotent store back).
    const call = async (body: Record<string, unknown>, path = '/v1/infer', headers: Record<string, string> = {}) => {
      const id = `ledger-${seeded.record.keyId}-${++n}`;
      sent.push(id);
      const res = await post(path, key, { model, ...body }, { 'x-request-id': id, ...headers });
      return { status: res.status, headers: res.headers, text: await res.text() };
    };
    await modelReset();

    // Phase 1: answers whose backend usage the server reports in full.
    const sync = await Promise.all([1, 2, 3].map((i) => call({ prompt: `sync request number ${i}`, params: { max_tokens: 6 } })));
    for (const res of sync) expect(res.status).toBe(200);
    for (const i of [1, 2]) {
      const res = await call({ prompt: `a streamed request ${i}`, params: { max_tokens: 5 } }, '/v1/infer/stream');
      expect(res.status).toBe(200);
    }
    // A cached answer, then its hit.
    const cached = { prompt: 'a cacheable question', params: { max_tokens: 4, temperature: 0 } };
    expect((await call(cached)).status).toBe(200);
    const hit = await call(cached);
    expect(hit.headers.get('x-cache')).toBe('HIT');
    // Coalesced followers: three identical requests while the first is still generating.
    await modelConfig({ ttftMs: 300, perTokenMs: 50 });
    const together = { prompt: 'coalesce these three', params: { max_tokens: 4, seed: 7 } };
    const coalesced = await Promise.all([call(together), call(together), call(together)]);
    for (const res of coalesced) expect(res.status).toBe(200);
    await modelConfig({ ttftMs: 0, perTokenMs: 0 });
    // An idempotent request and its replay.
    const idem = { 'idempotency-key': `idem-${seeded.record.keyId}` };
    expect((await call({ prompt: 'only once', params: { max_tokens: 3 } }, '/v1/infer', idem)).status).toBe(200);
    await vi.waitUntil(
      async () => (await call({ prompt: 'only once', params: { max_tokens: 3 } }, '/v1/infer', idem)).headers.get('idempotent-replayed') === 'true',
      {
        timeout: 5_000,
        interval: 200,
      },
    );
    // Async jobs: each recorded once, by its consumer, when it ends.
    for (const i of [1, 2]) expect((await call({ prompt: `a queued job ${i}`, params: { max_tokens: 4 } }, '/v1/jobs')).status).toBe(202);
    // Backend errors and refusals: recorded at 0.
    await modelConfig({ forcedStatus: 500 });
    expect((await call({ prompt: 'this one fails', params: { max_tokens: 3 } })).status).toBeGreaterThanOrEqual(500);
    await modelConfig({ forcedStatus: null });
    expect((await call({ model: 'no-such-model', prompt: 'unknown model' })).status).toBe(404);
    // Embeddings: a miss, a PARTIAL answer (one input cached, one embedded), and concurrent requests sharing batched calls.
    const word = () => `w${crypto.randomUUID().replaceAll('-', '')}`;
    const embed = (input: string | string[]) => call({ model: TEI_MODEL, input, encoding_format: 'float' }, '/v1/embeddings');
    const [cachedInput, otherInput] = [word(), word()];
    expect((await embed([cachedInput, otherInput])).headers.get('x-cache')).toBe('MISS');
    const partial = await embed([cachedInput, word()]);
    expect(partial.headers.get('x-cache')).toBe('PARTIAL');
    const embeddingCalls = (await routeStats('sagemaker.embeddings')).invocations;
    const batched = await Promise.all([1, 2, 3, 4].map(() => embed(word())));
    for (const res of batched) expect(res.headers.get('x-cache')).toBe('MISS');
    expect((await routeStats('sagemaker.embeddings')).invocations - embeddingCalls).toBeLessThan(batched.length);
    // Client aborts mid-stream, on a model of their own so its server counters tell their share apart.
    await modelConfig({ perTokenMs: 100 });
    const aborted: string[] = [];
    for (const i of [1, 2]) {
      const id = `ledger-${seeded.record.keyId}-${++n}`;
      sent.push(id);
      aborted.push(id);
      const res = await post('/v1/infer/stream', key, { model: ABORT_MODEL, prompt: `abandon me ${i}`, params: { max_tokens: 50 } }, { 'x-request-id': id });
      const reader = res.body!.getReader();
      let text = '';
      while (!text.includes('event: token')) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
    }
    await vi.waitUntil(async () => (await serverTotals()).inFlight === 0, { timeout: 10_000, interval: 100 });
    await modelConfig({ perTokenMs: 0 });

    // One consumer failure: the store is down when the last batch arrives, so it is redelivered.
    const last = await call({ prompt: 'the last one before the outage', params: { max_tokens: 4 } });
    expect(last.status).toBe(200);
    await setStackBridgeFaults({ fault: 'unavailable' });
    await new Promise((r) => setTimeout(r, 2_500));
    await setStackBridgeFaults({ fault: null });

    const records = await vi.waitUntil(
      async () => {
        const list = await exportedRecords(seeded.tenant.tenantId);
        return list.length >= sent.length ? list : undefined;
      },
      { timeout: 30_000, interval: 500 },
    );
    const server = await serverStats();

    // Exactly one record per request, keyed by the client's request id.
    expect(records.map((r) => r.request_id).sort()).toEqual([...sent].sort());
    expect(new Set(records.map((r) => r.record_id)).size).toBe(records.length);
    // The backend's tokens are the model server's, embeddings calls included: exactly, for every request
    // the backend finished. A stream the client left is compared to its own model's counters: what the
    // edge had relayed before the cancel, never more than the server generated (its prompt is the edge's
    // estimate: the backend reports no usage for a stream it did not finish).
    const isAborted = (r: UsageRecord) => aborted.includes(r.request_id);
    const finished = records.filter((r) => !isAborted(r));
    const abortServer = server.byEndpoint[ABORT_MODEL]!;
    expect(sum(finished, 'backend_prompt_tokens')).toBe(server.totals.promptTokens - abortServer.promptTokens);
    expect(sum(finished, 'backend_completion_tokens')).toBe(server.totals.tokensGenerated - abortServer.tokensGenerated);
    expect(server.byRoute['sagemaker.embeddings']?.promptTokens).toBeGreaterThan(0);
    const abortRecords = records.filter(isAborted);
    expect(abortRecords).toHaveLength(2);
    for (const r of abortRecords) {
      expect(r).toMatchObject({ stream: true, error_code: null });
      expect(r.backend_completion_tokens).toBeGreaterThan(0);
      expect(r.backend_completion_tokens).toBeLessThan(50);
    }
    expect(sum(abortRecords, 'backend_completion_tokens')).toBeLessThanOrEqual(abortServer.tokensGenerated);
    expect(abortServer.cancelled).toBe(2);
    // Embeddings: the PARTIAL answer billed its embedded input at the full rate, its cached one at the cached rate.
    const embeddingsRecords = records.filter((r) => r.route === '/v1/embeddings');
    expect(embeddingsRecords.map((r) => r.cache).sort()).toEqual(['MISS', 'MISS', 'MISS', 'MISS', 'MISS', 'PARTIAL']);
    const partialRecord = embeddingsRecords.find((r) => r.cache === 'PARTIAL')!;
    expect(partialRecord.backend_prompt_tokens).toBeGreaterThan(0);
    expect(partialRecord.prompt_tokens).toBeGreaterThan(partialRecord.backend_prompt_tokens);
    // Hits, followers, replays and refusals carry no backend tokens and are not billed as misses.
    const byId = new Map(records.map((r) => [r.request_id, r]));
    const hitRecord = byId.get(sent[6]!)!;
    expect(hitRecord.cache).toMatch(/^L[012]$/);
    expect(hitRecord.backend_prompt_tokens + hitRecord.backend_completion_tokens).toBe(0);
    expect(hitRecord.completion_tokens).toBeGreaterThan(0);
    const followers = records.filter((r) => r.cache === 'COALESCED');
    expect(followers.length).toBe(2);
    for (const f of followers) expect(f.backend_completion_tokens).toBe(0);
    const replays = records.filter((r) => r.replay_of !== undefined);
    expect(replays.length).toBeGreaterThanOrEqual(1);
    for (const r of replays) {
      expect(r.cost_micros).toBe(0);
      expect(r.backend_completion_tokens).toBe(0);
      expect(records.some((o) => o.record_id === r.replay_of)).toBe(true);
    }
    for (const r of records.filter((x) => x.status >= 400)) expect(r.cost_micros).toBe(0);
    expect(records.find((r) => r.status === 404)?.error_code).toBe('NOT_FOUND');
    const jobs = records.filter((r) => r.route === '/v1/jobs');
    expect(jobs.length).toBe(2);
    for (const j of jobs) expect(j.backend_completion_tokens).toBe(4);
    const streams = finished.filter((r) => r.stream);
    expect(streams.length).toBe(2);
    for (const s of streams) expect(s.ttft_ms).not.toBeNull();

    // The redelivered batch left a second copy in the bucket, which the export dropped.
    const copies = await storedCopies(seeded.tenant.tenantId);
    expect(copies.length).toBeGreaterThan(records.length);

    // The aggregates are the sum of the raw records, once the redelivered batch is counted.
    const requestsOf = (rows: UsageReport['rows']) => rows.reduce((t, row) => t + row.requests, 0);
    const byModel = await vi.waitUntil(
      async () => {
        const report = await usageReport('model', { tenantId: seeded.tenant.tenantId });
        return requestsOf(report.rows) >= records.length ? report : undefined;
      },
      { timeout: 30_000, interval: 500 },
    );
    const totals = byModel.rows.reduce(
      (t, row) => ({
        requests: t.requests + row.requests,
        backend_completion_tokens: t.backend_completion_tokens + row.backend_completion_tokens,
        cost: t.cost + row.cost_micros,
        hits: t.hits + row.cache_hits,
      }),
      { requests: 0, backend_completion_tokens: 0, cost: 0, hits: 0 },
    );
    expect(totals.requests).toBe(records.length);
    expect(totals.backend_completion_tokens).toBe(sum(records, 'backend_completion_tokens'));
    expect(totals.cost).toBe(sum(records, 'cost_micros'));
    expect(totals.cost).toBeGreaterThan(0);
    const byKey = await usageReport('key', { tenantId: seeded.tenant.tenantId });
    expect(byKey.rows.map((r) => r.group)).toEqual([seeded.record.keyId]);
    expect(byKey.rows[0]?.cost_micros).toBe(totals.cost);
    expect(totals.hits).toBe(records.filter((r) => ['L0', 'L1', 'L2', 'COALESCED'].includes(r.cache)).length);
  }, 90_000);

  it('records nothing with USAGE_LEDGER=off, while the same request to the ledger on is recorded', async () => {
    const seeded = await seedTenantKey({ scopes: ['infer', 'admin'] });
    const off = createApp({});
    const ctx = createExecutionContext();
    const body = JSON.stringify({ model, prompt: 'not recorded', params: { max_tokens: 3 } });
    const headers = { authorization: `Bearer ${seeded.key}`, 'content-type': 'application/json', 'x-request-id': `off-${seeded.record.keyId}` };
    const res = await off.request('/v1/infer', { method: 'POST', headers, body }, { ...env, USAGE_LEDGER: 'off' }, ctx);
    expect(res.status).toBe(200);
    await res.text();
    await waitOnExecutionContext(ctx);
    const recorded = await call(seeded.key, `on-${seeded.record.keyId}`);
    expect(recorded).toBe(200);
    const records = await vi.waitUntil(
      async () => {
        const list = await exportedRecords(seeded.tenant.tenantId);
        return list.length > 0 ? list : undefined;
      },
      { timeout: 20_000, interval: 300 },
    );
    // The recorded request's batch has landed; the one before it, with the ledger off, left nothing.
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await exportedRecords(seeded.tenant.tenantId)).map((r) => r.request_id)).toEqual([`on-${seeded.record.keyId}`]);
    expect(records).toHaveLength(1);
  });

  it('changes no aggregate when a batch already counted is delivered again', async () => {
    const seeded = await seedTenantKey({ scopes: ['infer', 'admin'] });
    const res = await post('/v1/infer', seeded.key, { model, prompt: 'count me once', params: { max_tokens: 3 } });
    expect(res.status).toBe(200);
    await res.text();
    const [record] = await vi.waitUntil(
      async () => {
        const list = await exportedRecords(seeded.tenant.tenantId);
        return list.length > 0 ? list : undefined;
      },
      { timeout: 20_000, interval: 300 },
    );
    const counted = async () => (await usageReport('day', { tenantId: seeded.tenant.tenantId })).rows[0];
    const before = await vi.waitUntil(counted, { timeout: 10_000, interval: 300 });
    const attempt = consumer();
    for (const attempts of [2, 3]) {
      const result = await attempt('gw-usage-local', `redelivered-${attempts}`, attempts, record, env as unknown as Record<string, unknown>);
      expect(result.acked).toEqual([`redelivered-${attempts}`]);
    }
    expect(await counted()).toEqual(before);
    expect(before?.requests).toBe(1);
    expect(before?.cost_micros).toBe(record?.cost_micros);
  });

  it('gives a shadow call a record of its own, with what its backend spent and never billed', async () => {
    const seeded = await seedTenantKey({ scopes: ['infer', 'admin'] });
    const shadow = ecs();
    const price = { inputPer1M: 0.5, outputPer1M: 1.5, perRequest: 0.0001 };
    const gw = gateway(tableFor({ backends: [sm()], shadow, price } as Parameters<typeof tableFor>[0]));
    const { res, background } = await gw.send(seeded.key, '/v1/infer', { prompt: 'shadowed and recorded', params: { max_tokens: 3 } });
    expect(res.status).toBe(200);
    await res.text();
    await background();
    const records = await vi.waitUntil(
      async () => {
        const list = await exportedRecords(seeded.tenant.tenantId);
        return list.length >= 2 ? list : undefined;
      },
      { timeout: 20_000, interval: 300 },
    );
    expect(records).toHaveLength(2);
    const [own, copy] = [records.find((r) => !r.shadow), records.find((r) => r.shadow)];
    expect(copy).toMatchObject({
      shadow: true,
      variant: 'shadow',
      backend: shadow.name,
      cost_micros: 0,
      backend_completion_tokens: 3,
      request_id: own?.request_id,
    });
    expect(own?.cost_micros).toBeGreaterThan(0);
    expect(copy?.record_id).not.toBe(own?.record_id);
  });

  it('records a natively relayed Responses API answer with the usage its container reported', async () => {
    const seeded = await seedTenantKey({ scopes: ['infer', 'admin'] });
    const res = await post(
      '/v1/responses',
      seeded.key,
      { model: 'qwen-2.5-7b-vllm', input: 'relay me', max_output_tokens: 5 },
      { 'x-request-id': `native-${seeded.record.keyId}` },
    );
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { usage: { input_tokens: number; output_tokens: number } };
    const [record] = await vi.waitUntil(
      async () => {
        const list = await exportedRecords(seeded.tenant.tenantId);
        return list.length > 0 ? list : undefined;
      },
      { timeout: 20_000, interval: 300 },
    );
    expect(record).toMatchObject({
      request_id: `native-${seeded.record.keyId}`,
      model: 'qwen-2.5-7b-vllm',
      route: '/v1/responses',
      backend_prompt_tokens: answer.usage.input_tokens,
      backend_completion_tokens: answer.usage.output_tokens,
    });
    expect(record?.cost_micros).toBeGreaterThan(0);
  });
});
