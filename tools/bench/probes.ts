/**
 * Measurements that a load generator cannot take: streaming time to first token and total
 * (direct, the Lambda host + adapter alone, this gateway, the peer), a coalesced stream's followers
 * against its leader, coalescing of identical concurrent misses (backend calls counted at the model
 * server), and store round trips per request (counted at the Upstash bridge).
 */
import { randomUUID } from 'node:crypto';
import { BENCH_MODEL, type BenchEnvironment } from './environment';
import { summarize, type LatencySummary } from './stats';
import { sendOnce, type LoadSubject, type Target } from './subjects';

/** Time to first token and total of one streaming subject. */
export interface StreamingResult {
  readonly id: 'direct' | 'adapter' | 'gateway' | 'peer';
  readonly label: string;
  readonly ok: number;
  readonly failed: number;
  readonly ttft: LatencySummary | null;
  readonly total: LatencySummary | null;
  /** The first failure, as seen by the client (status and a body excerpt). */
  readonly failure?: string;
}

/** How a stream carries tokens: OpenAI chunks (`"content"`, `[DONE]`) or the adapter's events (`token`, `done`). */
type StreamFormat = 'openai' | 'backend';

const FIRST_TOKEN: Record<StreamFormat, RegExp> = { openai: /"content":"[^"]/, backend: /"text":"[^"]/ };
const STREAM_END: Record<StreamFormat, string> = { openai: '[DONE]', backend: 'event: done' };

interface StreamTiming {
  readonly ttftMs: number;
  readonly totalMs: number;
  readonly headers: Headers;
}

async function streamOnce(target: Target, format: StreamFormat = 'openai'): Promise<StreamTiming | { error: string }> {
  const started = performance.now();
  const res = await fetch(target.url, {
    method: 'POST',
    headers: target.headers,
    body: target.body.replaceAll('[<id>]', randomUUID()),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200 || !res.body) return { error: `HTTP ${res.status}: ${(await res.text()).replace(/\s+/g, ' ').slice(0, 200)}` };
  const decoder = new TextDecoder();
  let buffer = '';
  let ttftMs: number | undefined;
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    if (ttftMs === undefined && FIRST_TOKEN[format].test(buffer)) ttftMs = performance.now() - started;
  }
  const totalMs = performance.now() - started;
  if (!buffer.includes(STREAM_END[format])) return { error: `stream ended without ${STREAM_END[format]}: ${buffer.slice(-200)}` };
  if (ttftMs === undefined) return { error: 'no content delta in the stream' };
  return { ttftMs, totalMs, headers: res.headers };
}

/** `count` streamed chat completions per subject, interleaved one by one. */
export async function measureStreaming(env: BenchEnvironment, count: number): Promise<StreamingResult[]> {
  const body = JSON.stringify({
    model: BENCH_MODEL,
    messages: [{ role: 'user', content: 'Benchmark stream [<id>]' }],
    max_tokens: 32,
    temperature: 0,
    stream: true,
  });
  const json = { 'content-type': 'application/json' };
  const adapter = env.adapterStreamRequest();
  const subjects: Array<{ id: StreamingResult['id']; label: string; target: Target | undefined; format?: StreamFormat; missing?: string }> = [
    {
      id: 'direct',
      label: 'direct to the model server',
      target: { url: `${env.stack.modelServer.url}/v1/chat/completions`, method: 'POST', headers: json, body },
    },
    {
      id: 'adapter',
      label: 'Lambda host + ECS adapter alone (SigV4, no edge)',
      target: { url: adapter.url, method: 'POST', headers: adapter.headers, body: adapter.body },
      format: 'backend',
    },
    {
      id: 'gateway',
      label: 'this gateway (miss, ECS adapter)',
      target: { url: `${env.edge.url}/v1/chat/completions`, method: 'POST', headers: { ...json, authorization: `Bearer ${env.apiKey}` }, body },
    },
    {
      id: 'peer',
      label: 'peer gateway (Portkey OSS on Node)',
      target: env.peer
        ? { url: `${env.peer.url}/v1/chat/completions`, method: 'POST', headers: { ...json, ...env.peer.headersFor(env.stack.modelServer.url) }, body }
        : undefined,
      missing: env.peerError,
    },
  ];
  const samples = subjects.map(() => ({ ttft: [] as number[], total: [] as number[], failed: 0, failure: undefined as string | undefined }));
  for (let i = 0; i < count; i += 1) {
    for (const [n, s] of subjects.entries()) {
      if (!s.target) continue;
      const r = await streamOnce(s.target, s.format).catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }));
      const acc = samples[n]!;
      if ('error' in r) {
        acc.failed += 1;
        acc.failure ??= r.error;
      } else {
        acc.ttft.push(r.ttftMs);
        acc.total.push(r.totalMs);
      }
    }
  }
  return subjects.map((s, n) => {
    const acc = samples[n]!;
    const failure = s.target ? acc.failure : `not available: ${s.missing ?? 'peer not started'}`;
    return {
      id: s.id,
      label: s.label,
      ok: acc.ttft.length,
      failed: acc.failed,
      ttft: acc.ttft.length ? summarize(acc.ttft, 0) : null,
      total: acc.total.length ? summarize(acc.total, 0) : null,
      ...(failure ? { failure } : {}),
    };
  });
}

/** A coalesced stream: one leader calls the backend, identical requests in flight follow it. */
export interface CoalescedStreamResult {
  readonly concurrent: number;
  readonly trials: number;
  /** Leader TTFT over the trials (one leader each). */
  readonly leader: LatencySummary | null;
  /** Follower TTFT over the trials. */
  readonly followers: LatencySummary | null;
  /** Answers by `X-Cache` / `X-Cache-Tier`, e.g. `MISS`, `HIT COALESCED`. */
  readonly answers: Record<string, number>;
  readonly failed: number;
  readonly failure?: string;
}

/**
 * `trials` times, `concurrent` identical streaming requests with a fresh prompt at once: the one
 * answered `X-Cache: MISS` led (called the backend), the others followed it. Compares their first tokens.
 */
export async function measureCoalescedStreaming(env: BenchEnvironment, concurrent: number, trials: number): Promise<CoalescedStreamResult> {
  const leaders: number[] = [];
  const followers: number[] = [];
  const answers: Record<string, number> = {};
  let failed = 0;
  let failure: string | undefined;
  for (let t = 0; t < trials; t += 1) {
    const target: Target = {
      url: `${env.edge.url}/v1/chat/completions`,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.apiKey}` },
      body: JSON.stringify({
        model: BENCH_MODEL,
        messages: [{ role: 'user', content: `Coalesced stream ${randomUUID()}` }],
        max_tokens: 32,
        temperature: 0,
        stream: true,
      }),
    };
    const runs = await Promise.all(
      Array.from({ length: concurrent }, () => streamOnce(target).catch((e: unknown) => ({ error: e instanceof Error ? e.message : String(e) }))),
    );
    for (const r of runs) {
      if ('error' in r) {
        failed += 1;
        failure ??= r.error;
        continue;
      }
      const label = [r.headers.get('x-cache'), r.headers.get('x-cache-tier')].filter(Boolean).join(' ') || '(none)';
      answers[label] = (answers[label] ?? 0) + 1;
      (r.headers.get('x-cache') === 'MISS' ? leaders : followers).push(r.ttftMs);
    }
  }
  return {
    concurrent,
    trials,
    leader: leaders.length ? summarize(leaders, 0) : null,
    followers: followers.length ? summarize(followers, 0) : null,
    answers,
    failed,
    ...(failure ? { failure } : {}),
  };
}

/** What N identical concurrent misses cost at the model server. */
export interface CoalescingResult {
  readonly available: boolean;
  readonly reason?: string;
  readonly concurrent: number;
  /** Inference requests the model server received for them. */
  readonly backendCalls: number;
  readonly statuses: Record<string, number>;
  /** `X-Cache` values of the answers. */
  readonly xCache: Record<string, number>;
  readonly wallMs: number;
}

/** Fires `concurrent` identical cacheable requests with a fresh prompt at once. */
export async function measureCoalescing(env: BenchEnvironment, concurrent: number): Promise<CoalescingResult> {
  const target: Target = {
    url: `${env.edge.url}/v1/chat/completions`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.apiKey}` },
    body: JSON.stringify({ model: BENCH_MODEL, messages: [{ role: 'user', content: `Coalesce me ${randomUUID()}` }], max_tokens: 16, temperature: 0 }),
  };
  const calls = () => env.stack.modelServer.stats().totals.invocations;
  const before = calls();
  const started = performance.now();
  const answers = await Promise.all(Array.from({ length: concurrent }, () => sendOnce(target).catch(() => undefined)));
  const wallMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 100));
  const backendCalls = calls() - before;
  const statuses: Record<string, number> = {};
  const xCache: Record<string, number> = {};
  for (const a of answers) {
    const status = a ? String(a.status) : 'network-error';
    statuses[status] = (statuses[status] ?? 0) + 1;
    const cache = a?.headers.get('x-cache') ?? '(none)';
    xCache[cache] = (xCache[cache] ?? 0) + 1;
  }
  const cacheSeen = Object.keys(xCache).some((k) => k !== '(none)');
  return {
    available: cacheSeen,
    ...(cacheSeen
      ? {}
      : { reason: `not available (feature missing): no X-Cache header; ${backendCalls} backend calls observed for ${concurrent} identical requests` }),
    concurrent,
    backendCalls,
    statuses,
    xCache,
    wallMs: Math.round(wallMs),
  };
}

/** Store round trips (HTTP requests at the bridge) per request of a subject. */
export interface RoundTrips {
  readonly subject: string;
  readonly requests: number;
  /** Per request, counted when the response headers arrived (the critical path, approximately). */
  readonly beforeResponse: number;
  /** Per request, including background work finished shortly after (`waitUntil`). */
  readonly total: number;
  /** Redis commands per request by name. */
  readonly commands: Record<string, number>;
}

/** Sends `count` sequential requests (after one unrecorded warm-up) and counts the bridge's requests. */
export async function countRoundTrips(env: BenchEnvironment, subject: string, count: number, send: () => Promise<Response>): Promise<RoundTrips> {
  const bridge = env.stack.bridge;
  await (await send()).arrayBuffer();
  let before = 0;
  let total = 0;
  const commands: Record<string, number> = {};
  for (let i = 0; i < count; i += 1) {
    await new Promise((r) => setTimeout(r, 60));
    bridge.resetStats();
    const res = await send();
    before += bridge.stats().httpRequests;
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 60));
    const stats = bridge.stats();
    total += stats.httpRequests;
    for (const [name, n] of Object.entries(stats.commandsByName)) commands[name] = (commands[name] ?? 0) + n;
  }
  const per = (n: number) => Math.round((n / count) * 100) / 100;
  return {
    subject,
    requests: count,
    beforeResponse: per(before),
    total: per(total),
    commands: Object.fromEntries(Object.entries(commands).map(([k, v]) => [k, per(v)])),
  };
}

/** Round trips per request of a load subject (a fresh `[<id>]` each time). */
export function measureRoundTrips(env: BenchEnvironment, subject: LoadSubject, count: number): Promise<RoundTrips> {
  const { url, method, headers, body } = subject.target;
  return countRoundTrips(env, subject.id, count, () => fetch(url, { method, headers, body: body.replaceAll('[<id>]', randomUUID()) }));
}

/** Round trips of an authenticated request that runs no limits and no cache: `GET /v1/models` with a warm key. */
export function measureAuthRoundTrips(env: BenchEnvironment, count: number): Promise<RoundTrips> {
  return countRoundTrips(env, 'auth-only', count, () => fetch(`${env.edge.url}/v1/models`, { headers: { authorization: `Bearer ${env.apiKey}` } }));
}
