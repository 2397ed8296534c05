/**
 * Dynamic batching of embeddings, measured: the local stack's `e5-small-vllm` (batched by the edge)
 * against its unbatched twin (the same container, `maxBatchInputs` 1), side by side and interleaved.
 * At a fixed moderate rate the difference in latency is what batching adds (the batch held open for
 * `flushMs`); at saturation the difference in throughput is what it gains, with the model server's
 * embeddings calls per request (its `/admin/stats` route counter) showing the batches. Every request
 * embeds one fresh text, so the per-input cache never answers, from a standard-tier tenant (its
 * `flushMs` is read from the stack's route table, as the edge reads it).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from '@upstash/redis';
import { flushMsFor, RouteTableSchema } from '../../edge/services/route-table';
import type { Priority } from '../../shared/plans';
import { createApiKey, createTenant } from '../tenancy/keys';
import { updateTenant } from '../tenancy/tenants';
import { LOCAL_UNBATCHED_EMBEDDING_MODEL } from '../stack/stack';
import { UNLIMITED, type BenchEnvironment } from './environment';
import { LoadTally, type LoadJob, type ModeResult } from './load';
import { sendOnce, type Target } from './subjects';
import { ratio, round } from './stats';

/** The batched model; the twin is {@link LOCAL_UNBATCHED_EMBEDDING_MODEL}. */
export const BATCHED_EMBEDDING_MODEL = 'e5-small-vllm';
/** The tier whose `flushMs` the goal is about (the bench tenant's plan priority). */
const PRIORITY: Priority = 'standard';
/** The model server's counter of the ECS service's embeddings calls. */
const EMBEDDINGS_ROUTE = 'openai.embeddings';

/** One side (batched or unbatched) in both modes. */
export interface EmbeddingsSide {
  readonly model: string;
  readonly maxBatchInputs: number;
  readonly fixed: ModeResult;
  readonly saturation: ModeResult;
  /** Embeddings calls the model server received per request sent at saturation. */
  readonly backendCallsPerRequest: number | null;
}

export interface EmbeddingsBatching {
  readonly available: boolean;
  readonly reason?: string;
  readonly priority: Priority;
  /** The batched model's hold for {@link priority}, from the route table. */
  readonly flushMs: number;
  readonly rate: number;
  readonly connections: number;
  readonly saturationConnections: number;
  readonly durationSec: number;
  readonly rounds: number;
  readonly batched?: EmbeddingsSide;
  readonly unbatched?: EmbeddingsSide;
}

export interface EmbeddingsOptions {
  readonly rate: number;
  readonly connections: number;
  readonly saturationConnections: number;
  readonly durationSec: number;
  readonly rounds: number;
}

/** A difference with its sign: `+1.2`, `-0.4`. */
const signed = (v: number) => (v >= 0 ? `+${v}` : String(v));

/** The same figures derived for the goals and the report. */
export interface EmbeddingsFigures {
  /** Batched p50 / p95 minus unbatched at the fixed rate, ms. */
  readonly addedP50: number;
  readonly addedP95: number;
  /** Batched req/s over unbatched at saturation. */
  readonly throughputRatio: number | null;
}

export function embeddingsFigures(e: EmbeddingsBatching | null | undefined): EmbeddingsFigures | null {
  if (!e?.batched || !e.unbatched) return null;
  const [b, u] = [e.batched, e.unbatched];
  return {
    addedP50: round(b.fixed.summary.p50 - u.fixed.summary.p50),
    addedP95: round(b.fixed.summary.p95 - u.fixed.summary.p95),
    throughputRatio: ratio(b.saturation.summary.rps, u.saturation.summary.rps),
  };
}

/** A tenant of the standard tier whose limits are far above the bench's load. */
async function standardTenantKey(env: BenchEnvironment): Promise<string> {
  const store = new Redis({ url: env.stack.bridge.url, token: env.stack.bridgeToken, enableTelemetry: false });
  const tenant = await createTenant(store, { tenantId: `ten_bench_embed_${randomBytes(5).toString('hex')}`, name: 'Bench (embeddings)', plan: 'pro' });
  await updateTenant(store, tenant.tenantId, {
    overrides: {
      requestsPerMinute: UNLIMITED,
      requestsPerHour: UNLIMITED,
      requestsPerDay: UNLIMITED,
      tokensPerMinute: UNLIMITED,
      tokensPerDay: UNLIMITED,
      priority: PRIORITY,
    },
  });
  return (await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] })).key;
}

const embeddingsCalls = (env: BenchEnvironment) => env.stack.modelServer.stats().byRoute[EMBEDDINGS_ROUTE]?.invocations ?? 0;

/** Measures the batched model against its unbatched twin, interleaved over `rounds`. */
export async function measureEmbeddingsBatching(env: BenchEnvironment, options: EmbeddingsOptions): Promise<EmbeddingsBatching> {
  const table = RouteTableSchema.parse(JSON.parse(env.stack.edgeVars['ROUTE_TABLE'] ?? '{}'));
  const specOf = (model: string) => table.models[model]?.embeddings;
  const batchedSpec = specOf(BATCHED_EMBEDDING_MODEL);
  const unbatchedSpec = specOf(LOCAL_UNBATCHED_EMBEDDING_MODEL);
  const base = {
    priority: PRIORITY,
    flushMs: batchedSpec ? flushMsFor(batchedSpec, PRIORITY) : Number.NaN,
    rate: options.rate,
    connections: options.connections,
    saturationConnections: options.saturationConnections,
    durationSec: options.durationSec,
    rounds: options.rounds,
  };
  if (!batchedSpec || !unbatchedSpec)
    return {
      ...base,
      available: false,
      reason: `the route table has no embeddings route for ${BATCHED_EMBEDDING_MODEL} or ${LOCAL_UNBATCHED_EMBEDDING_MODEL}`,
    };

  const key = await standardTenantKey(env);
  const target = (model: string): Target => ({
    url: `${env.edge.url}/v1/embeddings`,
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    // A fresh text per request: every input misses the per-input cache and reaches the batcher.
    body: JSON.stringify({ model, input: 'Benchmark embeddings input [<id>]', encoding_format: 'float' }),
  });
  const sides = [
    { model: BATCHED_EMBEDDING_MODEL, maxBatchInputs: batchedSpec.maxBatchInputs, target: target(BATCHED_EMBEDDING_MODEL) },
    { model: LOCAL_UNBATCHED_EMBEDDING_MODEL, maxBatchInputs: unbatchedSpec.maxBatchInputs, target: target(LOCAL_UNBATCHED_EMBEDDING_MODEL) },
  ];
  for (const s of sides) {
    const res = await sendOnce(s.target);
    const data = res.status === 200 ? (JSON.parse(res.text) as { data?: unknown[] }).data : undefined;
    if (data?.length !== 1) return { ...base, available: false, reason: `${s.model} answered ${res.status}: ${res.text.slice(0, 200)}` };
  }

  const job = (t: Target, mode: { connections: number; rate?: number }, durationSec: number): LoadJob => ({
    ...t,
    connections: mode.connections,
    durationSec,
    ...(mode.rate ? { overallRate: mode.rate } : {}),
  });
  const fixed = { connections: options.connections, rate: options.rate };
  const saturation = { connections: options.saturationConnections };
  // Unrecorded: the isolates, the adapter's connections and the model server warm for both sides.
  for (const s of sides) await env.load.run(job(s.target, fixed, Math.min(1, options.durationSec)));

  const tallies = sides.map(() => ({ fixed: new LoadTally(200), saturation: new LoadTally(200), calls: 0, sent: 0 }));
  for (let round = 0; round < options.rounds; round += 1) {
    for (const mode of ['fixed', 'saturation'] as const) {
      // Each round the other side first, so neither always runs on the warmer machine.
      for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const before = embeddingsCalls(env);
        const r = await env.load.run(job(sides[i]!.target, mode === 'fixed' ? fixed : saturation, options.durationSec));
        const t = tallies[i]!;
        t[mode].add(r);
        if (mode === 'saturation') {
          // Per request sent: the calls of requests still in flight when autocannon stopped land too (give them time).
          await new Promise((resolve) => setTimeout(resolve, 200));
          t.calls += embeddingsCalls(env) - before;
          t.sent += r.sent;
        }
      }
    }
  }
  const [batched, unbatched] = sides.map(
    (s, i): EmbeddingsSide => ({
      model: s.model,
      maxBatchInputs: s.maxBatchInputs,
      fixed: tallies[i]!.fixed.result(),
      saturation: tallies[i]!.saturation.result(),
      backendCallsPerRequest: tallies[i]!.sent > 0 ? round(tallies[i]!.calls / tallies[i]!.sent) : null,
    }),
  );
  return { ...base, available: true, batched: batched!, unbatched: unbatched! };
}

/** The two goal rows (judged in goals.ts): what batching adds at the fixed rate, what it gains at saturation. */
export function embeddingsGoalRows(e: EmbeddingsBatching | null): Array<{ id: string; goal: string; ok: boolean | null; measured: string }> {
  const f = embeddingsFigures(e);
  const latencyGoal = `embeddings: batching adds ≤ flushMs + 1 ms p50 (flushMs ${e ? e.flushMs : '–'} ms, ${PRIORITY} tier, one fresh input per request)`;
  const throughputGoal = 'embeddings: batched throughput vs unbatched at saturation (reported; met when batching gains)';
  if (!e?.batched || !e.unbatched || !f) {
    const why = e?.reason ?? 'embeddings batching not measured';
    return [
      { id: 'embeddings-batching-latency', goal: latencyGoal, ok: null, measured: why },
      { id: 'embeddings-batching-throughput', goal: throughputGoal, ok: null, measured: why },
    ];
  }
  const [b, u] = [e.batched, e.unbatched];
  const calls = (s: EmbeddingsSide) => (s.backendCallsPerRequest === null ? '–' : String(s.backendCallsPerRequest));
  return [
    {
      id: 'embeddings-batching-latency',
      goal: latencyGoal,
      ok: f.addedP50 <= e.flushMs + 1,
      measured: `${b.model} p50 ${b.fixed.summary.p50} ms vs ${u.model} ${u.fixed.summary.p50} ms: ${signed(f.addedP50)} ms (p95 ${signed(f.addedP95)} ms) at ${e.rate} req/s over ${e.connections} connections`,
    },
    {
      id: 'embeddings-batching-throughput',
      goal: throughputGoal,
      ok: f.throughputRatio === null ? null : f.throughputRatio > 1,
      measured: `${b.saturation.summary.rps} req/s vs ${u.saturation.summary.rps} req/s (${f.throughputRatio ?? '–'}×) at ${e.saturationConnections} connections; embeddings calls per request at the model server ${calls(b)} vs ${calls(u)}`,
    },
  ];
}

/** The report's section: both sides in both modes, and the difference. */
export function embeddingsMarkdown(e: EmbeddingsBatching | null): string[] {
  if (!e) return [];
  const out = [`## Embeddings: dynamic batching vs unbatched (${e.rounds} interleaved rounds × ${e.durationSec} s per side per mode)`, ''];
  const f = embeddingsFigures(e);
  if (!e.batched || !e.unbatched || !f) return [...out, `Not measured: ${e.reason ?? 'unknown'}`, ''];
  const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  const odd = (m: ModeResult) => (m.unexpected ? ` (**${m.unexpected} unexpected**)` : '');
  out.push(
    row([
      'model',
      'maxBatchInputs',
      `p50 @ ${e.rate} req/s`,
      `p95 @ ${e.rate} req/s`,
      `served @ ${e.rate} req/s`,
      `req/s @ ${e.saturationConnections} connections`,
      'p50 at saturation',
      'embeddings calls per request',
    ]),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
  );
  for (const s of [e.batched, e.unbatched])
    out.push(
      row([
        s.model,
        s.maxBatchInputs,
        `${s.fixed.summary.p50}${odd(s.fixed)}`,
        s.fixed.summary.p95,
        s.fixed.summary.rps,
        `${s.saturation.summary.rps}${odd(s.saturation)}`,
        s.saturation.summary.p50,
        s.backendCallsPerRequest ?? '–',
      ]),
    );
  out.push(row(['**batching**', '', signed(f.addedP50), signed(f.addedP95), '', `${f.throughputRatio ?? '–'}×`, '', '']));
  out.push(
    '',
    `Both models are the same container behind the ECS adapter; the unbatched twin sends every input as its own call. Every request embeds one fresh text (no cache hit), as a ${e.priority}-tier tenant ` +
      `(flushMs ${e.flushMs} ms from the route table). The model server embeds at once, so the throughput gained here is the per-call cost of the path (adapter hop, SigV4, HTTP) alone; ` +
      "a GPU container that embeds a batch in about the time of one input adds its own saving on top. The added latency means what it says only where both sides serve the fixed rate (the `served` column). Calls per request: the model server's `openai.embeddings` counter over the saturation runs, per request sent.",
    '',
  );
  return out;
}
