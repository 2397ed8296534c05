/**
 * Dynamic batching of `POST /v1/embeddings` through the worker in workerd against the model
 * server: concurrent single-input requests (separate requests to the worker, so the cross-request
 * rule holds) reach the TEI endpoint in few calls, each caller gets its own vector and its share of
 * the call's tokens (the shares add up to the backend's count); an aborted caller's input is dropped
 * from a batch not yet sent while the others are answered; a caller's deadline holds; a failed call
 * fails its own batch only, after the retries the resilience policy allows.
 */
import { env } from 'cloudflare:test';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmbeddingList } from '../../shared/contracts/embeddings';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { IsolateMetrics } from '../services/metrics';
import { RouteTableSchema } from '../services/route-table';
import { embeddingsApp, routeStats, TEI_MODEL, VLLM_MODEL, vectorsOf } from '../testing/embeddings';
import { modelConfig, modelReset, post } from '../testing/gateway-client';
import { counted } from '../testing/routes';
import { seedTenantKey } from '../testing/seed';

afterEach(async () => {
  await modelReset();
});

const word = () => `w${crypto.randomUUID().replaceAll('-', '')}`;
const stackTable = () => RouteTableSchema.parse(JSON.parse((env as Record<string, string>).ROUTE_TABLE!));

/** The stack's route table with the TEI model's batching (and the table's timeouts) changed. */
function tableWith(embeddings: Record<string, unknown>, timeouts?: Record<string, number>): string {
  const table = stackTable();
  const route = table.models[TEI_MODEL]!;
  return JSON.stringify({
    ...table,
    ...(timeouts ? { timeouts } : {}),
    models: { ...table.models, [TEI_MODEL]: { ...route, embeddings: { ...route.embeddings, ...embeddings } } },
  });
}

describe('dynamic batching', () => {
  it('merges 64 concurrent single-input requests into at most 16 backend calls; the usage adds up', async () => {
    const { key } = await seedTenantKey();
    const inputs = Array.from({ length: 64 }, () => word());
    const before = await routeStats('sagemaker.embeddings');
    const answers = await Promise.all(inputs.map((input) => post('/v1/embeddings', key, { model: TEI_MODEL, input, encoding_format: 'float' })));
    expect(answers.map((r) => r.status)).toEqual(inputs.map(() => 200));
    const bodies = (await Promise.all(answers.map((r) => r.json()))) as EmbeddingList[];
    const after = await routeStats('sagemaker.embeddings');
    const calls = after.invocations - before.invocations;
    console.warn(`embeddings batching: 64 concurrent requests reached the backend in ${calls} calls`);
    expect(calls).toBeLessThanOrEqual(16);
    expect(bodies.reduce((sum, b) => sum + b.usage.prompt_tokens, 0)).toBe(after.promptTokens - before.promptTokens);
    // Each caller got the vector of its own input (the same as an unbatched, uncached call gives).
    for (const i of [0, 31, 63]) {
      const alone = await post('/v1/embeddings', key, { model: TEI_MODEL, input: inputs[i], encoding_format: 'float' }, { 'cache-control': 'no-cache' });
      expect(bodies[i]!.data[0]!.embedding).toEqual((await vectorsOf(alone))[0]);
    }
  });

  it('drops an aborted caller from a batch not yet sent and answers the others; records size and wait', async () => {
    const { key } = await seedTenantKey();
    const metrics = new IsolateMetrics();
    const app = embeddingsApp({ ROUTE_TABLE: tableWith({ flushMs: { standard: 300 } }) }, { metrics });
    const before = await routeStats('sagemaker.embeddings');
    const leaving = new AbortController();
    const [owner, gone, staying] = [word(), word(), word()];
    const calls = [
      app.send(key, { model: TEI_MODEL, input: owner, encoding_format: 'float' }),
      app.send(key, { model: TEI_MODEL, input: gone }, { signal: leaving.signal }),
      app.send(key, { model: TEI_MODEL, input: [staying], encoding_format: 'float' }),
    ];
    setTimeout(() => leaving.abort(), 50);
    const [a, b, c] = (await Promise.all(calls)) as [Awaited<(typeof calls)[number]>, Awaited<(typeof calls)[number]>, Awaited<(typeof calls)[number]>];
    expect(a.res.status).toBe(200);
    expect(c.res.status).toBe(200);
    expect(b.res.status).toBeGreaterThanOrEqual(500);
    const after = await routeStats('sagemaker.embeddings');
    expect(after.invocations - before.invocations).toBe(1);
    // One token per word: the aborted caller's input never reached the backend.
    expect(after.promptTokens - before.promptTokens).toBe(2);
    expect(((await a.res.json()) as EmbeddingList).usage.prompt_tokens + ((await c.res.json()) as EmbeddingList).usage.prompt_tokens).toBe(2);
    const series = metrics.drain();
    expect(counted(series, 'EmbeddingBatchSize', { Model: TEI_MODEL })).toBe(2);
    const wait = series.find((s) => s.metric === 'EmbeddingBatchWait')!;
    expect(wait.values[0]).toBeGreaterThanOrEqual(250);
  });

  it("answers TIMEOUT at the caller's deadline", async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ endpoints: { [TEI_MODEL]: { ttftMs: 3_000 } } });
    const app = embeddingsApp({ ROUTE_TABLE: tableWith({}, { standard: 400 }) });
    const started = Date.now();
    const { res } = await app.send(key, { model: TEI_MODEL, input: word() });
    expect(res.status).toBe(504);
    expect(ErrorEnvelopeSchema.parse(await res.json()).error.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('gives every caller of a failed call the error after the retries, and leaves other batches alone', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ endpoints: { [TEI_MODEL]: { forcedStatus: 503, retryAfterSeconds: 1 } } });
    // A batch window wide enough that both callers surely share one batch.
    const app = embeddingsApp({ ROUTE_TABLE: tableWith({ flushMs: { standard: 200 } }) });
    const before = await routeStats('sagemaker.embeddings');
    const [x, y, other] = await Promise.all([
      app.send(key, { model: TEI_MODEL, input: word() }),
      app.send(key, { model: TEI_MODEL, input: word() }),
      app.send(key, { model: VLLM_MODEL, input: word() }),
    ]);
    for (const failed of [x, y]) {
      expect(failed.res.status).toBe(503);
      expect(failed.res.headers.get('retry-after')).not.toBeNull();
      expect(ErrorEnvelopeSchema.parse(await failed.res.json()).error.code).toBe('UPSTREAM_ERROR');
    }
    expect(other.res.status).toBe(200);
    const after = await routeStats('sagemaker.embeddings');
    // One batch, sent as often as the retry policy allows (3 attempts), not once per caller.
    expect(after.invocations - before.invocations).toBe(3);
  });
});
