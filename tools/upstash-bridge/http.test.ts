/**
 * The bridge at the HTTP level: authentication, malformed requests, the path style, response
 * encodings, per-entry pipeline errors, transaction aborts, refused commands, the stats endpoint,
 * the `db` and `maxBodyBytes` options, and a Redis that goes away.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureRedis } from '../redis/ensure-redis';
import { startUpstashBridge } from './server';
import { startTestBridge, type TestBridge } from './testing';

let tb: TestBridge;

beforeAll(async () => {
  tb = await startTestBridge();
});

afterAll(async () => {
  await tb?.close();
});

beforeEach(() => tb.bridge.resetStats());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  tb.fetch(path, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers });

async function json(response: Response): Promise<{ status: number; body: unknown }> {
  return { status: response.status, body: await response.json() };
}

describe('authentication', () => {
  it.each([
    ['no token', {}],
    ['a wrong Bearer token', { authorization: 'Bearer not-the-token' }],
    ['a malformed Authorization header', { authorization: 'Basic abc' }],
  ])('answers 401 to %s and runs nothing', async (_label, headers) => {
    const key = tb.key('auth:single');
    const res = await fetch(`${tb.bridge.url}/`, { method: 'POST', headers, body: JSON.stringify(['set', key, 'x']) });
    expect(await json(res)).toEqual({ status: 401, body: { error: 'WRONGPASS invalid or missing auth token' } });
    const piped = await fetch(`${tb.bridge.url}/pipeline`, { method: 'POST', headers, body: JSON.stringify([['set', key, 'x']]) });
    expect(piped.status).toBe(401);
    const path = await fetch(`${tb.bridge.url}/set/${encodeURIComponent(key)}/x?_token=wrong`, { headers });
    expect(path.status).toBe(401);
    expect(await tb.direct.exists(key)).toBe(0);
    expect(tb.bridge.stats()).toMatchObject({ httpRequests: 3, unauthorizedRequests: 3, redisCommands: 0 });
  });

  it('accepts the token as ?_token=', async () => {
    const res = await fetch(`${tb.bridge.url}/set/${encodeURIComponent(tb.key('auth:q'))}/yes?_token=${tb.token}`);
    expect(await json(res)).toEqual({ status: 200, body: { result: 'OK' } });
    expect(await tb.direct.get(tb.key('auth:q'))).toBe('yes');
  });
});

describe('malformed requests', () => {
  it.each([
    ['invalid JSON', '["set", "k"', /JSON/],
    ['an object instead of an array', { command: 'get' }, /JSON array/],
    ['an empty command', [], /empty command/],
    ['an object argument', ['set', 'k', { a: 1 }], /item 2 must be a string or a number, got object/],
    ['a null argument', ['get', null], /got null/],
    ['an empty body', '', /empty request body/],
  ])('answers 400 to %s', async (_label, body, message) => {
    const { status, body: reply } = await json(await post('/', body));
    expect(status).toBe(400);
    expect((reply as { error: string }).error).toMatch(message);
    expect(tb.bridge.stats()).toMatchObject({ invalidRequests: 1, redisCommands: 0 });
  });

  it('refuses a whole pipeline with one malformed entry and runs none of it', async () => {
    const key = tb.key('malformed:pipe');
    const { status, body } = await json(await post('/pipeline', [['set', key, '1'], 'get']));
    expect(status).toBe(400);
    expect(body).toEqual({ error: 'ERR command 1 must be a JSON array: [command, ...args]' });
    expect(await tb.direct.exists(key)).toBe(0);
    expect((await json(await post('/pipeline', []))).status).toBe(400);
  });

  it('answers 405 to a method Upstash does not accept, and 404 under /_bridge/', async () => {
    expect((await tb.fetch('/get/x', { method: 'DELETE' })).status).toBe(405);
    expect((await tb.fetch('/pipeline')).status).toBe(405);
    expect((await tb.fetch('/_bridge/nope')).status).toBe(404);
  });

  it('surfaces an unknown command as a Redis error with HTTP 400', async () => {
    const { status, body } = await json(await post('/', ['definitely-not-a-command', 'x']));
    expect(status).toBe(400);
    expect((body as { error: string }).error).toMatch(/^ERR unknown command/);
  });

  it('keeps serving after all of the above', async () => {
    expect(await json(await post('/', ['ping']))).toEqual({ status: 200, body: { result: 'PONG' } });
  });
});

describe('maxBodyBytes', () => {
  it('answers 400 "max request size exceeded" and runs nothing', async () => {
    const redis = await ensureRedis();
    const small = await startUpstashBridge({ redisUrl: redis.url, token: tb.token, maxBodyBytes: 1024 });
    try {
      const key = tb.key('big');
      const res = await fetch(`${small.url}/`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tb.token}` },
        body: JSON.stringify(['set', key, 'x'.repeat(2048)]),
      });
      expect(await json(res)).toEqual({ status: 400, body: { error: 'ERR max request size exceeded. Limit: 1024 bytes' } });
      expect(await tb.direct.exists(key)).toBe(0);
      expect(small.stats()).toMatchObject({ invalidRequests: 1, redisCommands: 0 });
    } finally {
      await small.close();
      await redis.stop();
    }
  });
});

describe('path style', () => {
  it('URL-decodes segments, appends the body and then the query parameters', async () => {
    const key = tb.key('path:k');
    const k = encodeURIComponent(key);
    expect(await json(await tb.fetch(`/set/${k}/hello%20world%2Fslash`))).toEqual({ status: 200, body: { result: 'OK' } });
    expect(await json(await tb.fetch(`/GET/${k}`))).toEqual({ status: 200, body: { result: 'hello world/slash' } });
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]);
    expect((await tb.fetch(`/set/${k}?EX=100`, { method: 'POST', body: bytes })).status).toBe(200);
    expect(await tb.direct.getBuffer(key)).toEqual(bytes);
    expect(await tb.direct.ttl(key)).toBeGreaterThan(0);
    expect(await json(await tb.fetch(`/get/${k}`, { headers: { 'upstash-encoding': 'base64' } }))).toEqual({
      status: 200,
      body: { result: bytes.toString('base64') },
    });
    expect(await json(await tb.fetch(`/get/${k}`))).toEqual({ status: 200, body: { result: '\u0000\ufffd\ufffd\ufffdA' } });
  });
});

describe('response encoding', () => {
  it('base64-encodes strings at any depth except a top-level OK; integers and nil stay', async () => {
    const b64 = { 'upstash-encoding': 'base64' };
    const key = tb.key('enc:h');
    const text = async (body: unknown, path = '/') => (await post(path, body, b64)).text();
    expect(await text(['set', tb.key('enc:s'), 'OK'])).toBe('{"result":"OK"}');
    expect(await text(['get', tb.key('enc:s')])).toBe('{"result":"OK"}');
    expect(await text(['ping'])).toBe('{"result":"UE9ORw=="}');
    expect(await text(['hset', key, 'f', 'v', 'g', 'OK'])).toBe('{"result":2}');
    expect(await text(['hgetall', key])).toBe('{"result":["Zg==","dg==","Zw==","T0s="]}');
    expect(await text(['mget', `${key}:none`, tb.key('enc:s')])).toBe('{"result":[null,"T0s="]}');
    expect(
      await text(
        [
          ['incr', tb.key('enc:n')],
          ['get', key],
        ],
        '/pipeline',
      ),
    ).toMatch(/^\[\{"result":1\},\{"error":"WRONGTYPE/);
  });

  it('keeps every digit of 64-bit integer replies', async () => {
    const key = tb.key('enc:big');
    await tb.direct.set(key, '9007199254740993');
    expect(await (await post('/', ['incr', key])).text()).toBe('{"result":9007199254740994}');
  });
});

describe('pipelines and transactions', () => {
  it('answers a pipeline with per-entry results and errors, HTTP 200', async () => {
    const hash = tb.key('px:hash');
    await tb.direct.hset(hash, 'f', '1');
    const { status, body } = await json(await post('/pipeline', [['set', tb.key('px:s'), 1], ['incr', hash], ['nosuchcmd'], ['get', tb.key('px:s')]]));
    expect(status).toBe(200);
    const entries = body as Array<{ result?: unknown; error?: string }>;
    expect(entries[0]).toEqual({ result: 'OK' });
    expect(entries[1]?.error).toMatch(/^WRONGTYPE/);
    expect(entries[2]?.error).toMatch(/^ERR unknown command/);
    expect(entries[3]).toEqual({ result: '1' });
    expect(tb.bridge.stats()).toMatchObject({ pipelineRequests: 1, redisCommands: 4 });
  });

  it('discards a transaction with a command Redis will not queue, running none of it', async () => {
    const key = tb.key('tx:discarded');
    const { status, body } = await json(
      await post('/multi-exec', [
        ['set', key, '1'],
        ['nosuchcmd', 'x'],
        ['incr', key],
      ]),
    );
    expect(status).toBe(400);
    expect((body as { error: string }).error).toMatch(/^ERR unknown command/);
    expect(await tb.direct.exists(key)).toBe(0);
  });

  it('keeps each transaction contiguous among concurrent requests on the shared connection', async () => {
    const key = tb.key('tx:atomic');
    const transactions = Array.from({ length: 20 }, () =>
      post('/multi-exec', [
        ['incr', key],
        ['incr', key],
        ['incr', key],
      ]).then(json),
    );
    const singles = Array.from({ length: 20 }, () => post('/', ['incr', key]));
    const pipelines = Array.from({ length: 10 }, () =>
      post('/pipeline', [
        ['incr', key],
        ['incr', key],
      ]),
    );
    const [results] = await Promise.all([Promise.all(transactions), Promise.all(singles), Promise.all(pipelines)]);
    for (const { status, body } of results) {
      expect(status).toBe(200);
      const [a, b, c] = (body as Array<{ result: number }>).map((entry) => entry.result);
      expect([b, c]).toEqual([a! + 1, a! + 2]);
    }
    expect(await tb.direct.get(key)).toBe(String(20 * 3 + 20 + 10 * 2));
  });

  it('discards a transaction with a refused command before sending anything', async () => {
    const key = tb.key('tx:refused');
    const { status } = await json(
      await post('/multi-exec', [
        ['set', key, '1'],
        ['blpop', key, '0'],
      ]),
    );
    expect(status).toBe(400);
    expect(await tb.direct.exists(key)).toBe(0);
    expect(tb.bridge.stats().redisCommands).toBe(0);
  });
});

describe('refused commands', () => {
  it.each([
    ['subscribe', 'chan'],
    ['psubscribe', 'ch*'],
    ['monitor'],
    ['select', '1'],
    ['blpop', 'list', '0'],
    ['bzpopmin', 'zset', '0'],
    ['xread', 'BLOCK', '0', 'STREAMS', 's', '$'],
    ['quit'],
    ['client', 'kill', 'type', 'normal'],
    ['watch', 'k'],
    ['exec'],
  ])('refuses %s at once with a clear error', async (...command) => {
    const { status, body } = await json(await post('/', command));
    expect(status).toBe(400);
    expect((body as { error: string }).error).toMatch(new RegExp(`^ERR Command is not available: '${command[0]}'`));
  });

  it('still runs the non-blocking form of XREAD', async () => {
    await tb.direct.xadd(tb.key('stream'), '*', 'f', 'v');
    const { status, body } = await json(await post('/', ['xread', 'COUNT', '1', 'STREAMS', tb.key('stream'), '0']));
    expect(status).toBe(200);
    expect(JSON.stringify(body)).toContain('"f","v"');
  });
});

describe('stats', () => {
  it('counts requests by outcome and commands by name, in process and over HTTP', async () => {
    await post('/', ['set', tb.key('st:a'), '1']);
    await post('/pipeline', [
      ['incr', tb.key('st:a')],
      ['get', tb.key('st:a')],
      ['get', tb.key('st:b')],
    ]);
    await post('/multi-exec', [
      ['incr', tb.key('st:a')],
      ['expire', tb.key('st:a'), 60],
    ]);
    await tb.fetch(`/get/${encodeURIComponent(tb.key('st:a'))}`);
    await post('/', 'not json');
    await post('/', ['blpop', 'x', '0']);
    await fetch(`${tb.bridge.url}/`, { method: 'POST', body: '["get","x"]' });
    const expected = {
      httpRequests: 7,
      unauthorizedRequests: 1,
      invalidRequests: 1,
      commandRequests: 3,
      pipelineRequests: 1,
      transactionRequests: 1,
      redisCommands: 7,
      commandsByName: { set: 1, incr: 2, get: 3, expire: 1 },
    };
    expect(tb.bridge.stats()).toEqual(expected);
    expect(await json(await tb.fetch('/_bridge/stats'))).toEqual({ status: 200, body: expected });
    expect((await fetch(`${tb.bridge.url}/_bridge/stats`)).status).toBe(401);
    expect((await fetch(`${tb.bridge.url}/_bridge/stats`, { method: 'DELETE' })).status).toBe(401);
    expect(tb.bridge.stats().httpRequests).toBe(7);
    expect(await json(await tb.fetch('/_bridge/stats', { method: 'DELETE' }))).toEqual({ status: 200, body: { result: 'OK' } });
    expect(tb.bridge.stats()).toMatchObject({ httpRequests: 0, redisCommands: 0, commandsByName: {} });
  });
});

describe('db option', () => {
  let dbBridge: TestBridge;

  beforeAll(async () => {
    dbBridge = await startTestBridge({ db: 5 });
  });

  afterAll(async () => {
    await dbBridge?.close();
  });

  it('selects the logical database for every command', async () => {
    const key = dbBridge.key('db');
    await dbBridge.client().set(key, 'in-db-5');
    expect(await dbBridge.direct.get(key)).toBe('in-db-5');
    expect(await tb.direct.exists(key)).toBe(0);
  });
});

describe('when Redis goes away', () => {
  it('answers 500 with an error and keeps running', async () => {
    const redis = await ensureRedis({ spawnOnly: true });
    const lines: string[] = [];
    const bridge = await startUpstashBridge({ redisUrl: redis.url, token: tb.token, log: (line) => lines.push(line) });
    try {
      const call = () => fetch(`${bridge.url}/`, { method: 'POST', headers: { authorization: `Bearer ${tb.token}` }, body: '["ping"]' });
      expect((await call()).status).toBe(200);
      await redis.stop();
      const res = await call();
      expect(res.status).toBe(500);
      expect(((await res.json()) as { error: string }).error).toMatch(/Redis is unavailable/);
      expect((await fetch(`${bridge.url}/_bridge/stats`, { headers: { authorization: `Bearer ${tb.token}` } })).status).toBe(200);
    } finally {
      await bridge.close();
      await redis.stop();
    }
    expect(lines.some((line) => line.includes('Redis is unavailable'))).toBe(true);
  });
});
