/**
 * The response cache through the worker in workerd, with Redis (bridge) as L2, the Workers Cache
 * API as L1 and each isolate's memory as L0: HIT/MISS/BYPASS and tiers, no cross-tenant hits, stream replay in both SSE flavours,
 * sync ↔ stream reuse, Cache-Control, and coalescing (counted at the model server).
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../app';
import type { Bindings } from '../../env';
import { IsolateMetrics } from '../metrics';
import { cacheKey } from './key';
import { l1Url } from './tiers';
import { modelConfig, modelReset, modelStats, post, sseMessages } from '../../testing/gateway-client';
import { withinOneMinute } from '../../testing/minute';
import { seedTenantKey } from '../../testing/seed';

const model = inject('model');
const settings = { defaultTtlS: 3600, maxTtlS: 86_400, shareableModels: [] };

afterEach(async () => {
  await modelReset();
});

const unique = (label: string) => `${label} ${crypto.randomUUID()}`;
const output = (res: Response) => res.json() as Promise<{ output: string; id: string }>;

/** A fresh isolate of the worker (its own L0, coalescer and metrics) in this location (the shared L1). */
function isolate() {
  const app = createApp({ metrics: new IsolateMetrics() });
  return {
    async send(key: string, path: string, body: unknown) {
      const ctx = createExecutionContext();
      const res = await app.request(
        path,
        { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) },
        env as unknown as Bindings,
        ctx,
      );
      const text = await res.text();
      // The cache writes run in waitUntil: done before the next isolate looks.
      await waitOnExecutionContext(ctx);
      return { status: res.status, headers: res.headers, json: <T>() => JSON.parse(text) as T };
    },
  };
}

describe('response cache', () => {
  it('misses, then hits L0 in the same isolate, L2 in another (which admits it to L1), L1 in a third; after L1 is gone, L2 again', {
    timeout: 60_000,
  }, async () => {
    // The requests span several seconds (each waits for its isolate's idle lease return); the
    // remaining count checked at the end must not straddle a minute window's reset.
    await withinOneMinute(25_000);
    const { key, tenant } = await seedTenantKey();
    const body = { model, prompt: unique('cache me'), params: { temperature: 0, max_tokens: 6 } };
    const l1Key = l1Url(await cacheKey(tenant.tenantId, { request_id: 'x', tenant_id: tenant.tenantId, ...body }, settings));
    const first = isolate();
    const miss = await first.send(key, '/v1/infer', body);
    expect(miss.headers.get('x-cache')).toBe('MISS');
    const text = miss.json<{ output: string }>().output;
    const calls = (await modelStats()).invocations;
    // A miss fills L0 and L2, not the location's cache: most answers are never asked for again.
    expect(await caches.default.match(l1Key)).toBeUndefined();
    expect((await first.send(key, '/v1/infer', body)).headers.get('x-cache-tier')).toBe('L0');
    // A fresh isolate in the same location: its L0 is empty, L1 holds nothing yet, L2 answers and admits it to L1.
    const second = isolate();
    const fromL2 = await second.send(key, '/v1/infer', body);
    expect([fromL2.headers.get('x-cache'), fromL2.headers.get('x-cache-tier')]).toEqual(['HIT', 'L2']);
    expect(fromL2.json<{ output: string }>().output).toBe(text);
    const fromL1 = await isolate().send(key, '/v1/infer', body);
    expect([fromL1.headers.get('x-cache'), fromL1.headers.get('x-cache-tier')]).toEqual(['HIT', 'L1']);
    expect(fromL1.json<{ output: string }>().output).toBe(text);
    expect((await second.send(key, '/v1/infer', body)).headers.get('x-cache-tier')).toBe('L0');
    await caches.default.delete(l1Key);
    expect((await isolate().send(key, '/v1/infer', body)).headers.get('x-cache-tier')).toBe('L2');
    expect((await isolate().send(key, '/v1/infer', body)).headers.get('x-cache-tier')).toBe('L1');
    expect((await modelStats()).invocations).toBe(calls);
    // A hit still counts as a request.
    expect(fromL2.headers.get('x-ratelimit-remaining')).toBe('597');
  });

  it("never answers one tenant from another tenant's entry", async () => {
    const a = await seedTenantKey();
    const b = await seedTenantKey();
    const body = { model, prompt: unique('tenant scoped'), params: { seed: 7, max_tokens: 4 } };
    expect((await post('/v1/infer', a.key, body)).headers.get('x-cache')).toBe('MISS');
    expect((await post('/v1/infer', a.key, body)).headers.get('x-cache')).toBe('HIT');
    const before = (await modelStats()).invocations;
    const other = await post('/v1/infer', b.key, body);
    expect(other.headers.get('x-cache')).toBe('MISS');
    expect((await modelStats()).invocations).toBe(before + 1);
  });

  it('bypasses non-deterministic requests and no-cache; never stores no-store; opts in with max-age', async () => {
    const { key } = await seedTenantKey();
    const random = { model, prompt: unique('random'), params: { temperature: 0.7, max_tokens: 3 } };
    expect((await post('/v1/infer', key, random)).headers.get('x-cache')).toBe('BYPASS');
    expect((await post('/v1/infer', key, random)).headers.get('x-cache')).toBe('BYPASS');
    expect((await post('/v1/infer', key, random, { 'cache-control': 'max-age=60' })).headers.get('x-cache')).toBe('MISS');
    expect((await post('/v1/infer', key, random, { 'cache-control': 'max-age=60' })).headers.get('x-cache')).toBe('HIT');
    const fixed = { model, prompt: unique('fixed'), params: { temperature: 0, max_tokens: 3 } };
    expect((await post('/v1/infer', key, fixed, { 'cache-control': 'no-store' })).headers.get('x-cache')).toBe('MISS');
    expect((await post('/v1/infer', key, fixed, { 'cache-control': 'no-cache' })).headers.get('x-cache')).toBe('BYPASS');
    expect((await post('/v1/infer', key, fixed)).headers.get('x-cache')).toBe('HIT');
  });
});

describe('stream replay', () => {
  it('replays a cached stream as the same token events, and serves a sync request from it', async () => {
    const { key } = await seedTenantKey();
    const body = { model, prompt: unique('stream me'), params: { temperature: 0, max_tokens: 8 } };
    const live = await post('/v1/infer/stream', key, body);
    expect(live.headers.get('x-cache')).toBe('MISS');
    const liveTokens = (await sseMessages(live)).filter((m) => m.event === 'token').map((m) => JSON.parse(m.data).text as string);
    expect(liveTokens.length).toBeGreaterThan(1);
    const calls = (await modelStats()).invocations;
    const replay = await post('/v1/infer/stream', key, body);
    expect(replay.headers.get('x-cache')).toBe('HIT');
    expect(replay.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const messages = await sseMessages(replay);
    expect(messages.filter((m) => m.event === 'token').map((m) => JSON.parse(m.data).text)).toEqual(liveTokens);
    expect(messages.at(-1)?.event).toBe('done');
    const sync = await post('/v1/infer', key, body);
    expect(sync.headers.get('x-cache')).toBe('HIT');
    expect((await output(sync)).output).toBe(liveTokens.join(''));
    expect((await modelStats()).invocations).toBe(calls);
  });

  it('replays in the OpenAI chat flavour, also from a sync answer', async () => {
    const { key } = await seedTenantKey();
    const chat = { model, messages: [{ role: 'user', content: unique('chat replay') }], max_tokens: 6, temperature: 0 };
    const sync = await post('/v1/chat/completions', key, chat);
    expect(sync.headers.get('x-cache')).toBe('MISS');
    const content = ((await sync.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    const replay = await post('/v1/chat/completions', key, { ...chat, stream: true, stream_options: { include_usage: true } });
    expect(replay.headers.get('x-cache')).toBe('HIT');
    const messages = await sseMessages(replay);
    expect(messages.at(-1)?.data).toBe('[DONE]');
    const chunks = messages.slice(0, -1).map((m) => JSON.parse(m.data) as { object: string; choices: { delta?: { content?: string } }[]; usage?: unknown });
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(content);
    expect(chunks.at(-1)?.usage).toBeTruthy();
  });
});

describe('coalescing', () => {
  it('sends 100 identical concurrent misses to the model once', { timeout: 120_000 }, async () => {
    const { key } = await seedTenantKey();
    // A slow model keeps the leader in flight while the others arrive.
    await modelConfig({ ttftMs: 1500 });
    const body = { model, prompt: unique('coalesce'), params: { temperature: 0, max_tokens: 5 } };
    const before = (await modelStats()).invocations;
    const responses = await Promise.all(
      Array.from({ length: 100 }, () =>
        post('/v1/infer', key, body).then(async (r) => ({
          status: r.status,
          cache: `${r.headers.get('x-cache')}/${r.headers.get('x-cache-tier') ?? '-'}`,
          out: (await output(r)).output,
        })),
      ),
    );
    const calls = (await modelStats()).invocations - before;
    const byCache = responses.reduce<Record<string, number>>((acc, r) => {
      acc[r.cache] = (acc[r.cache] ?? 0) + 1;
      return acc;
    }, {});
    console.warn(
      `coalescing: 100 identical concurrent requests → ${calls} model call(s); answers by X-Cache: ${JSON.stringify(byCache)}, statuses ${JSON.stringify([...new Set(responses.map((r) => r.status))])}`,
    );
    expect(responses.every((r) => r.status === 200 && r.out === responses[0]!.out)).toBe(true);
    expect(calls).toBe(1);
  });

  it('does not hang followers when the leader fails: every request gets an answer', { timeout: 120_000 }, async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ forcedStatus: 503, ttftMs: 300 });
    const body = { model, prompt: unique('failing leader'), params: { temperature: 0, max_tokens: 5 } };
    const statuses = await Promise.all(
      Array.from({ length: 10 }, () =>
        post('/v1/infer', key, body).then(async (r) => {
          await r.text();
          return r.status;
        }),
      ),
    );
    console.warn(`failed leader: statuses ${JSON.stringify(statuses)}`);
    expect(statuses.every((s) => s === 503)).toBe(true);
  });

  it('answers streaming followers of a leader that fails before its first token with their own status', { timeout: 60_000 }, async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ forcedStatus: 503, ttftMs: 200 });
    const body = { model, prompt: unique('stream leader fails'), params: { temperature: 0, max_tokens: 5 } };
    // One isolate of its own, so its open breaker stays its own.
    const gateway = isolate();
    const answers = await Promise.all(Array.from({ length: 5 }, () => gateway.send(key, '/v1/infer/stream', body)));
    console.warn(`failed streaming leader: statuses ${JSON.stringify(answers.map((a) => a.status))}`);
    expect(answers.every((a) => a.status === 503 && a.json<{ error: { code: string } }>().error.code === 'UPSTREAM_ERROR')).toBe(true);
  });
});
