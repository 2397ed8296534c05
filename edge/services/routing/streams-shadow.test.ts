/**
 * Routing of streams, shadows and canaries against the real local stack: a stream cut after N
 * tokens ends with an error (never a hang), a client leaving mid-stream cancels the model, a
 * failing or slow shadow never changes or delays the client's answer, and real requests split by
 * canary weight (sticky per tenant when configured) with X-Backend / X-Variant telling which.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SseParser, type SseMessage } from '../../../shared/sse';
import { seedTenantKey } from '../../testing/seed';
import { counted, dead, ecs, endpointStats, faults, gateway, resetModelServer, sm, SM_ENDPOINT, tableFor, ECS_MODEL_ID } from '../../testing/routes';

afterEach(async () => {
  await resetModelServer();
});

async function readAll(res: Response): Promise<SseMessage[]> {
  const text = await res.text();
  const parser = new SseParser();
  return [...parser.push(text), ...parser.end()];
}

describe('stream cut after N tokens', () => {
  it('ends /v1/infer/stream with an error event and an OpenAI stream with an error chunk, never a hang', async () => {
    await faults({ endpoints: { [SM_ENDPOINT]: { streamCutAfter: 3, perTokenMs: 20 } } });
    const { key } = await seedTenantKey();
    const primary = sm();
    const gw = gateway(tableFor({ backends: [primary], fallbacks: [ecs()] }));
    const infer = await gw.send(key, '/v1/infer/stream', { prompt: 'cut me', params: { max_tokens: 20 } });
    expect([infer.res.status, infer.res.headers.get('x-backend'), infer.res.headers.get('x-attempts')]).toEqual([200, primary.name, '1']);
    const events = await readAll(infer.res);
    expect(events.filter((m) => m.event === 'token')).toHaveLength(3);
    expect(events.at(-1)?.event).toBe('error');
    expect(JSON.parse(events.at(-1)!.data)).toMatchObject({ code: 'UPSTREAM_ERROR' });

    const chat = await gw.send(key, '/v1/chat/completions', { messages: [{ role: 'user', content: 'cut me' }], max_tokens: 20, stream: true });
    expect(chat.res.status).toBe(200);
    const chunks = await readAll(chat.res);
    console.warn(`cut stream: ${events.length} infer events, ${chunks.length} chat chunks, ${chat.ms} ms`);
    expect(chunks.at(-1)?.data).not.toBe('[DONE]');
    expect(JSON.parse(chunks.at(-1)!.data)).toMatchObject({ error: { code: 'UPSTREAM_ERROR', type: 'api_error' } });
  });

  it('falls back when the stream fails before its first token', async () => {
    await faults({ endpoints: { [SM_ENDPOINT]: { forcedStatus: 500 } } });
    const { key } = await seedTenantKey();
    const fallback = ecs();
    const { res } = await gateway(tableFor({ backends: [sm()], fallbacks: [fallback] })).send(key, '/v1/infer/stream', {
      prompt: 'x',
      params: { max_tokens: 3 },
    });
    expect([res.status, res.headers.get('x-backend'), res.headers.get('x-attempts')]).toEqual([200, fallback.name, '2']);
    expect((await readAll(res)).at(-1)?.event).toBe('done');
  });
});

describe('client abort mid-stream', () => {
  it('cancels the generation at the model server', async () => {
    await faults({ endpoints: { [SM_ENDPOINT]: { perTokenMs: 100 } } });
    const { key } = await seedTenantKey();
    const before = await endpointStats(SM_ENDPOINT);
    const { res } = await gateway(tableFor({ backends: [sm()] })).send(key, '/v1/infer/stream', { prompt: 'abandon me', params: { max_tokens: 60 } });
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('event: token');
    const abortedAt = Date.now();
    await reader.cancel();
    let after = await endpointStats(SM_ENDPOINT);
    for (let i = 0; i < 50 && after.cancelled === before.cancelled; i++) {
      await new Promise((r) => setTimeout(r, 100));
      after = await endpointStats(SM_ENDPOINT);
    }
    console.warn(`abort: model server saw the cancellation ${Date.now() - abortedAt} ms after the client left`);
    expect(after.cancelled).toBe(before.cancelled + 1);
    expect(after.streamsCompleted).toBe(before.streamsCompleted);
  });
});

describe('shadow backend', () => {
  it('leaves the answer unchanged when the shadow refuses connections', async () => {
    const { key } = await seedTenantKey();
    const primary = sm();
    const shadow = dead();
    const gw = gateway(tableFor({ backends: [primary], shadow }));
    const { res, background } = await gw.send(key, '/v1/infer', { prompt: 'shadowed', params: { max_tokens: 6 } });
    expect([res.status, res.headers.get('x-backend'), res.headers.get('x-attempts')]).toEqual([200, primary.name, '1']);
    expect(await res.json()).toMatchObject({ output: expect.stringMatching(/.+/), usage: { completion_tokens: 6 } });
    await background();
    expect(counted(gw.metrics.drain(), 'BackendRequests', { Backend: shadow.name, Variant: 'shadow' })).toBe(1);
  });

  it('does not delay the client for a slow shadow, and still calls it in the background', async () => {
    await faults({ endpoints: { [ECS_MODEL_ID]: { ttftMs: 4_000 } } });
    const { key } = await seedTenantKey();
    const before = await endpointStats(ECS_MODEL_ID);
    const gw = gateway(tableFor({ backends: [sm()], shadow: ecs() }));
    const { res, ms, background } = await gw.send(key, '/v1/infer', { prompt: 'fast please', params: { max_tokens: 3 } });
    expect(res.status).toBe(200);
    await res.json();
    console.warn(`slow shadow (4000 ms): client answered in ${ms} ms`);
    expect(ms).toBeLessThan(4_000);
    await background();
    expect((await endpointStats(ECS_MODEL_ID)).succeeded - before.succeeded).toBe(1);
  });
});

describe('canary weights on real requests', () => {
  it('splits by weight with X-Backend and X-Variant, and pins a tenant when sticky', async () => {
    const { key } = await seedTenantKey();
    const stable = sm(undefined, { weight: 70, variant: 'stable' });
    const canary = ecs(undefined, { weight: 30, variant: 'canary' });
    const gw = gateway(tableFor({ backends: [stable, canary] }));
    const seen = { stable: 0, canary: 0 };
    for (let i = 0; i < 60; i++) {
      const { res } = await gw.send(key, '/v1/infer', { prompt: `canary ${i}`, params: { max_tokens: 1 } });
      expect(res.status).toBe(200);
      const variant = res.headers.get('x-variant') as 'stable' | 'canary';
      expect(res.headers.get('x-backend')).toBe(variant === 'canary' ? canary.name : stable.name);
      seen[variant]++;
    }
    console.warn(`canary 30 %: ${seen.canary} of 60 real requests`);
    expect(seen.canary).toBeGreaterThanOrEqual(6);
    expect(seen.canary).toBeLessThanOrEqual(30);

    const sticky = gateway(tableFor({ backends: [stable, canary], sticky: true }));
    const variants = new Set<string | null>();
    for (let i = 0; i < 10; i++)
      variants.add((await sticky.send(key, '/v1/infer', { prompt: `sticky ${i}`, params: { max_tokens: 1 } })).res.headers.get('x-variant'));
    expect(variants.size).toBe(1);
  });
});
