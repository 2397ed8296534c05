/**
 * Coalescing with live fan-out: the flight and the resume after a failed leader as units, then
 * through the worker in workerd against the model server at a slow per-token pace — a streaming
 * follower's first token arrives with the leader's, a late follower replays the prefix and then
 * gets the live tail, the model is called once; followers of a leader whose client leaves, or that
 * fails before its first token, still get an answer.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { BackendStreamEvent } from '../../../shared/contracts/backend';
import { SseParser } from '../../../shared/sse';
import { eventually, modelConfig, modelReset, modelStats, post } from '../../testing/gateway-client';
import { seedTenantKey } from '../../testing/seed';
import { Coalescer, continueAfter, LeaderFailedError } from './coalesce';

const model = inject('model');
const unique = (label: string) => `${label} ${crypto.randomUUID()}`;
const usage = { prompt_tokens: 1, completion_tokens: 3 };

async function* streamOf(...events: BackendStreamEvent[]): AsyncGenerator<BackendStreamEvent, void, undefined> {
  yield* events;
}
const token = (text: string): BackendStreamEvent => ({ event: 'token', data: { text } });
const done: BackendStreamEvent = { event: 'done', data: { usage, model_latency_ms: 1 } };

async function collect(events: AsyncGenerator<BackendStreamEvent, void, undefined>): Promise<BackendStreamEvent[]> {
  const out: BackendStreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('Flight', () => {
  it('gives a follower the published prefix, then each live token, then done', async () => {
    const coalescer = new Coalescer();
    const leader = coalescer.lead('k');
    leader.publish({ text: 'a' });
    leader.publish({ text: 'b' });
    const seen: string[] = [];
    const following = (async () => {
      for await (const e of coalescer.follow('k')!.events(1_000)) seen.push(e.event === 'token' ? e.data.text : e.event);
    })();
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['a', 'b']);
    leader.publish({ text: 'c' });
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['a', 'b', 'c']);
    leader.resolve({ v: 1, chunks: ['a', 'b', 'c'], usage, modelLatencyMs: 1 });
    await following;
    expect(seen).toEqual(['a', 'b', 'c', 'done']);
    expect(coalescer.follow('k')).toBeUndefined();
  });

  it('fails its followers when the leader fails or goes quiet', async () => {
    const coalescer = new Coalescer();
    const leader = coalescer.lead('k');
    const flight = coalescer.follow('k')!;
    const quiet = collect(flight.events(30));
    await expect(quiet).rejects.toBeInstanceOf(LeaderFailedError);
    leader.publish({ text: 'a' });
    leader.reject(new LeaderFailedError('cut'));
    await expect(collect(flight.events(1_000))).rejects.toBeInstanceOf(LeaderFailedError);
    expect(await flight.started(10)).toBe(false);
    expect(await flight.answer(10)).toBeUndefined();
  });
});

describe('continueAfter', () => {
  it('drops what the client already has, across token boundaries, and passes the rest', async () => {
    const out = await collect(continueAfter('Hello wo', streamOf(token('Hel'), token('lo '), token('world'), token('!'), done)));
    expect(out).toEqual([token('rld'), token('!'), done]);
  });

  it('ends with an error event when the retry answers differently', async () => {
    const out = await collect(continueAfter('Hello', streamOf(token('Help'), token(' me'), done)));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ event: 'error', data: { code: 'UPSTREAM_ERROR' } });
    const short = await collect(continueAfter('Hello world', streamOf(token('Hello'), done)));
    expect(short[0]).toMatchObject({ event: 'error' });
  });
});

/** Reads an SSE response, stamping each token with its arrival (ms since `t0`). */
async function timedTokens(res: Response, t0: number, onToken: (count: number) => void = () => {}) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  const tokens: Array<{ text: string; at: number }> = [];
  let last = '';
  for (;;) {
    const { done: ended, value } = await reader.read();
    if (ended) break;
    const at = Date.now() - t0;
    for (const m of parser.push(value)) {
      last = m.event;
      if (m.event === 'token') {
        tokens.push({ text: (JSON.parse(m.data) as { text: string }).text, at });
        onToken(tokens.length);
      }
    }
  }
  return { tokens, last, text: tokens.map((t) => t.text).join(''), first: tokens[0]?.at ?? Number.NaN };
}

describe('live fan-out through the worker', () => {
  afterEach(async () => {
    await modelReset();
  });

  it('streams the leader tokens to its followers live: a follower first token comes with the leader first token', { timeout: 60_000 }, async () => {
    const { key } = await seedTenantKey({ plan: 'enterprise' });
    await modelConfig({ ttftMs: 400, perTokenMs: 100 });
    const body = { model, prompt: unique('fan out'), params: { temperature: 0, max_tokens: 10 } };
    const calls = (await modelStats()).invocations;
    const t0 = Date.now();
    let late: Promise<{ res: Response; read: Awaited<ReturnType<typeof timedTokens>> }> | undefined;
    let lateStarted = 0;
    // How far a follower's client is behind the leader's at each of its tokens, counted in the tokens
    // the leader's client already has (not in ms between client reads, which a loaded machine stretches).
    let leaderTokens = 0;
    const earlyLag: number[] = [];
    const lateLag: number[] = [];
    const leader = post('/v1/infer/stream', key, body).then((res) => {
      expect(res.headers.get('x-cache')).toBe('MISS');
      return timedTokens(res, t0, (n) => {
        leaderTokens = n;
        if (n === 3) {
          lateStarted = Date.now() - t0;
          late = post('/v1/infer/stream', key, body).then(async (res) => ({ res, read: await timedTokens(res, t0, (m) => lateLag.push(leaderTokens - m)) }));
        }
      }).then((read) => ({ res, read }));
    });
    // The leader's call reached the model: its flight is there to follow, well before its first token.
    await eventually(modelStats, (s) => s.invocations > calls);
    const early = await post('/v1/infer/stream', key, body);
    expect([early.headers.get('x-cache'), early.headers.get('x-cache-tier')]).toEqual(['HIT', 'COALESCED']);
    const [{ res: leadRes, read: lead }, first] = await Promise.all([leader, timedTokens(early, t0, (m) => earlyLag.push(leaderTokens - m))]);
    const { res: lateRes, read: second } = await late!;
    expect(lateRes.headers.get('x-cache-tier')).toBe('COALESCED');
    console.warn(`Server-Timing: leader ${leadRes.headers.get('server-timing')}; early follower ${early.headers.get('server-timing')}`);

    const times = (r: typeof lead) => r.tokens.map((t) => t.at).join(',');
    console.warn(
      `fan-out: leader first token ${lead.first} ms, early follower ${first.first} ms (Δ ${first.first - lead.first} ms), leader done ${lead.tokens.at(-1)!.at} ms; ` +
        `late follower joined at ${lateStarted} ms, its first token ${second.first} ms; token arrivals leader [${times(lead)}] early [${times(first)}] late [${times(second)}]; ` +
        `tokens behind the leader early [${earlyLag}] late [${lateLag}]`,
    );
    expect(first.text).toBe(lead.text);
    expect(second.text).toBe(lead.text);
    expect([lead.last, first.last, second.last]).toEqual(['done', 'done', 'done']);
    expect((await modelStats()).invocations - calls).toBe(1);
    // Live, not the whole entry at the end: the follower's first token comes with the leader's, before
    // the leader's client has its next but one (the whole entry would come with the leader's tenth).
    expect(earlyLag[0]).toBeLessThanOrEqual(1);
    // The late follower, sent at the leader's third token, gets its first while the leader's client
    // waits for the last four (the whole entry would come after the ninth), replays the published
    // prefix at once, then follows the leader live: from the end of the prefix on it is at most a
    // token behind (a prefix paced at 100 ms a token falls behind by as many as it replays, three).
    expect(lateLag[0]).toBeLessThanOrEqual(5);
    const live = lateLag.slice(lateLag[0]);
    // Not vacuous: the late follower had tokens left to follow live after its prefix.
    expect(live.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...live)).toBeLessThanOrEqual(1);
  });

  it('gives a follower the whole answer when the leader client leaves mid-stream', { timeout: 60_000 }, async () => {
    const { key } = await seedTenantKey({ plan: 'enterprise' });
    const body = { model, prompt: unique('leader leaves'), params: { temperature: 0, max_tokens: 10 } };
    const reference = (await (await post('/v1/infer', key, body, { 'cache-control': 'no-cache, no-store' })).json()) as { output: string };
    await modelConfig({ ttftMs: 200, perTokenMs: 80 });
    const calls = (await modelStats()).invocations;
    const t0 = Date.now();
    const leaderRes = await post('/v1/infer/stream', key, body);
    const follower = post('/v1/infer/stream', key, body).then((res) => timedTokens(res, t0));
    const reader = leaderRes.body!.getReader();
    let received = 0;
    while (received < 2) {
      const { value } = await reader.read();
      received += (new TextDecoder().decode(value).match(/event: token/g) ?? []).length;
    }
    await reader.cancel();
    const left = Date.now() - t0;
    const after = await follower;
    console.warn(
      `leader left at ${left} ms after ${received} tokens; follower got ${after.tokens.length} tokens ending in '${after.last}' at [${after.tokens.map((t) => t.at).join(',')}] ms; model calls ${(await modelStats()).invocations - calls}`,
    );
    expect(after.last).toBe('done');
    expect(after.text).toBe(reference.output);
  });
});
