/**
 * The real @upstash/redis client, unchanged, against real Redis through the bridge: commands,
 * pipelines, transactions, errors, both response encodings and auto-pipelining.
 */
import { Redis as CloudflareRedis } from '@upstash/redis/cloudflare';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestBridge, type TestBridge } from './testing';

let tb: TestBridge;

beforeAll(async () => {
  tb = await startTestBridge();
});

afterAll(async () => {
  await tb?.close();
});

const TRICKY = 'emoji 😀, accents é, NUL \u0000, quote " and backslash \\, newline \n, tab \t';

describe.each([
  { label: 'base64 responses (the client default)', responseEncoding: 'base64' as const },
  { label: 'plain JSON responses', responseEncoding: false as const },
])('@upstash/redis with $label', ({ label, responseEncoding }) => {
  const client = () => tb.client({ responseEncoding, enableAutoPipelining: false });
  const key = (name: string) => tb.key(`${label.split(' ')[0]}:${name}`);

  it('sets, gets and expires strings', async () => {
    const redis = client();
    expect(await redis.set(key('s'), 'hello', { ex: 100 })).toBe('OK');
    expect(await redis.get(key('s'))).toBe('hello');
    expect(await redis.get(key('missing'))).toBeNull();
    const ttl = await redis.ttl(key('s'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await redis.ttl(key('missing'))).toBe(-2);
    expect(await redis.expire(key('s'), 5)).toBe(1);
    expect(await redis.ttl(key('s'))).toBeLessThanOrEqual(5);
  });

  it('round-trips unicode, control characters and strings that look like base64 or OK', async () => {
    const redis = client();
    for (const [i, value] of [TRICKY, 'aGVsbG8=', 'OK', 'PONG', ''].entries()) {
      await redis.set(key(`tricky:${i}`), value);
      expect(await redis.get(key(`tricky:${i}`))).toBe(value);
    }
    expect(await tb.direct.get(key('tricky:0'))).toBe(TRICKY);
  });

  it('counts with incr and keeps numbers numbers', async () => {
    const redis = client();
    await redis.set(key('n'), 41);
    expect(await redis.incr(key('n'))).toBe(42);
    expect(await redis.incrby(key('n'), -50)).toBe(-8);
    expect(await redis.get(key('n'))).toBe(-8);
    expect(await redis.incrbyfloat(key('f'), 1.5)).toBe(1.5);
  });

  it('stores JSON values and hashes, and HGETALL comes back as the client expects', async () => {
    const redis = client();
    const doc = { model: 'llama', limits: [1, 2, 3], nested: { ok: true } };
    await redis.set(key('json'), doc);
    expect(await redis.get(key('json'))).toEqual(doc);
    expect(await redis.hset(key('h'), { a: 1, b: 'two', c: { deep: [true] } })).toBe(3);
    expect(await redis.hgetall(key('h'))).toEqual({ a: 1, b: 'two', c: { deep: [true] } });
    expect(await redis.hget(key('h'), 'b')).toBe('two');
    expect(await redis.hgetall(key('no-hash'))).toBeNull();
  });

  it('ranks members with zadd and zrange with scores', async () => {
    const redis = client();
    expect(await redis.zadd(key('z'), { score: 2.5, member: 'b' }, { score: 1, member: 'a' })).toBe(2);
    expect(await redis.zrange(key('z'), 0, -1)).toEqual(['a', 'b']);
    expect(await redis.zrange(key('z'), 0, -1, { withScores: true })).toEqual(['a', 1, 'b', 2.5]);
    expect(await redis.zscore(key('z'), 'b')).toBe(2.5);
  });

  it('reads several keys with mget, deletes them and checks existence', async () => {
    const redis = client();
    await redis.set(key('m1'), 'one');
    await redis.set(key('m3'), { three: 3 });
    expect(await redis.mget(key('m1'), key('m2'), key('m3'))).toEqual(['one', null, { three: 3 }]);
    expect(await redis.del(key('m1'), key('m2'), key('m3'))).toBe(2);
    expect(await redis.exists(key('m1'), key('m3'))).toBe(0);
  });

  it('answers PING with PONG (a status reply other than OK)', async () => {
    expect(await client().ping()).toBe('PONG');
  });

  it('scans the keyspace with a match pattern', async () => {
    const redis = client();
    const names = ['a', 'b', 'c', 'd', 'e'].map((n) => key(`scan:${n}`));
    for (const name of names) await redis.set(name, 1);
    const found: string[] = [];
    let cursor: string | number = 0;
    do {
      const [next, keys]: [string | number, string[]] = await redis.scan(cursor, { match: key('scan:*'), count: 100 });
      found.push(...keys);
      cursor = next;
    } while (String(cursor) !== '0');
    expect(found.sort()).toEqual(names);
  });

  it("throws Redis's message for a wrong-type command", async () => {
    const redis = client();
    await redis.hset(key('wt'), { f: 1 });
    await expect(redis.get(key('wt'))).rejects.toThrow(/WRONGTYPE Operation against a key holding the wrong kind of value/);
  });

  it('runs a pipeline and reports the one failing entry', async () => {
    const redis = client();
    await redis.hset(key('p:hash'), { f: 1 });
    const results = await redis.pipeline().set(key('p:s'), 'v').incr(key('p:n')).get(key('p:s')).exec();
    expect(results).toEqual(['OK', 1, 'v']);

    const failing = redis.pipeline().set(key('p:a'), 'a').get(key('p:hash')).set(key('p:b'), 'b');
    await expect(failing.exec()).rejects.toThrow(/Command 2 \[ get \] failed: WRONGTYPE/);
    expect(await tb.direct.mget(key('p:a'), key('p:b'))).toEqual(['a', 'b']);

    const kept = await redis.pipeline().get(key('p:hash')).get(key('p:s')).exec({ keepErrors: true });
    expect(kept[0]?.error).toMatch(/^WRONGTYPE/);
    expect(kept[1]).toEqual({ error: undefined, result: 'v' });
  });

  it('runs a transaction atomically and keeps going past an execution error, as Redis does', async () => {
    const redis = client();
    expect(await redis.multi().set(key('t:s'), 'x').incr(key('t:n')).get(key('t:s')).exec()).toEqual(['OK', 1, 'x']);

    const results = await redis.multi().set(key('t:bad'), 'text').incr(key('t:bad')).set(key('t:after'), 'done').exec({ keepErrors: true });
    expect(results[0]?.result).toBe('OK');
    expect(results[1]?.error).toMatch(/not an integer/);
    expect(results[2]?.result).toBe('OK');
    expect(await tb.direct.get(key('t:after'))).toBe('done');
  });
});

describe('auto-pipelining', () => {
  beforeEach(() => tb.bridge.resetStats());

  it('sends concurrent commands as one pipeline request per read/write batch', async () => {
    await tb.direct.set(tb.key('ap:a'), 'A');
    await tb.direct.set(tb.key('ap:b'), '2');
    const redis = tb.client({ enableAutoPipelining: true });
    const [a, b, n, h] = await Promise.all([
      redis.get(tb.key('ap:a')),
      redis.get(tb.key('ap:b')),
      redis.incr(tb.key('ap:n')),
      redis.hset(tb.key('ap:h'), { f: 'v' }),
    ]);
    expect([a, b, n, h]).toEqual(['A', 2, 1, 1]);
    const stats = tb.bridge.stats();
    expect(stats.httpRequests).toBe(2);
    expect(stats.pipelineRequests).toBe(2);
    expect(stats.redisCommands).toBe(4);
  });

  it('rejects only the failing command of a batch', async () => {
    await tb.direct.hset(tb.key('ap:hash'), 'f', '1');
    await tb.direct.set(tb.key('ap:ok'), 'fine');
    const redis = tb.client({ enableAutoPipelining: true });
    const [bad, good] = await Promise.allSettled([redis.get(tb.key('ap:hash')), redis.get(tb.key('ap:ok'))]);
    expect(bad.status).toBe('rejected');
    expect(bad.status === 'rejected' && String(bad.reason)).toMatch(/WRONGTYPE/);
    expect(good).toEqual({ status: 'fulfilled', value: 'fine' });
    expect(tb.bridge.stats().pipelineRequests).toBe(1);
  });
});

describe('@upstash/redis/cloudflare (the edge build)', () => {
  it('works against the bridge with its defaults (base64, auto-pipelining)', async () => {
    const redis = new CloudflareRedis({ url: tb.bridge.url, token: tb.token, retry: false, enableTelemetry: false });
    const key = tb.key('cf');
    expect(await redis.set(key, { tenant: 't1' })).toBe('OK');
    expect(await redis.get(key)).toEqual({ tenant: 't1' });
    expect(await redis.multi().incr(tb.key('cf:n')).incr(tb.key('cf:n')).exec()).toEqual([1, 2]);
  });
});
