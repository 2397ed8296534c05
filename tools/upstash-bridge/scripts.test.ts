/**
 * Lua scripts: the shebang rewrite (unit) and, through the real client against real Redis, EVAL,
 * EVALSHA with the client's SHA1, the NOSCRIPT → EVAL fallback, SCRIPT LOAD and SCRIPT EXISTS.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rewriteShebang, ScriptRegistry, sha1Hex } from './scripts';
import { startTestBridge, type TestBridge } from './testing';

const rewrite = (script: string) => rewriteShebang(Buffer.from(script))?.toString() ?? null;

describe('rewriteShebang', () => {
  it('removes a shebang whose only flag Redis does not know, keeping the line count', () => {
    expect(rewrite('#!lua flags=allow-key-locking\nreturn 1')).toBe('\nreturn 1');
  });

  it('keeps the flags Redis knows and other options', () => {
    expect(rewrite('#!lua flags=allow-key-locking,no-writes\nreturn 1')).toBe('#!lua flags=no-writes\nreturn 1');
    expect(rewrite('#!lua name=lib flags=allow-key-locking\nreturn 1')).toBe('#!lua name=lib\nreturn 1');
  });

  it('leaves scripts without a shebang, with valid flags or another engine alone', () => {
    expect(rewrite('return 1')).toBeNull();
    expect(rewrite('#!lua flags=no-writes,allow-stale\nreturn 1')).toBeNull();
    expect(rewrite('#!lua\nreturn 1')).toBeNull();
    expect(rewrite('#!js flags=allow-key-locking\nreturn 1')).toBeNull();
  });
});

describe('ScriptRegistry', () => {
  it("maps the client's SHA1 of the original to the SHA1 of the rewritten script", () => {
    const registry = new ScriptRegistry();
    const original = Buffer.from('#!lua flags=allow-key-locking\nreturn 1');
    const prepared = registry.prepare(original);
    expect(prepared.toString()).toBe('\nreturn 1');
    expect(registry.redisSha(sha1Hex(original))).toBe(sha1Hex(prepared));
    expect(registry.redisSha(sha1Hex(original).toUpperCase())).toBe(sha1Hex(prepared));
    expect(registry.clientMessage(`ERR oops script: ${sha1Hex(prepared)}, on @user_script:2.`)).toContain(sha1Hex(original));
    const untouched = 'f'.repeat(40);
    expect(registry.redisSha(untouched)).toBe(untouched);
  });

  it('forgets the oldest mappings past its capacity', () => {
    const registry = new ScriptRegistry(2);
    const scripts = [1, 2, 3].map((n) => Buffer.from(`#!lua flags=allow-key-locking\nreturn ${n}`));
    for (const script of scripts) registry.prepare(script);
    expect(registry.size).toBe(2);
    const [first, second] = scripts.map((s) => sha1Hex(s));
    expect(registry.redisSha(first!)).toBe(first);
    expect(registry.redisSha(second!)).not.toBe(second);
  });
});

describe('scripts through the bridge', () => {
  let tb: TestBridge;

  beforeAll(async () => {
    tb = await startTestBridge();
  });

  afterAll(async () => {
    await tb?.close();
  });

  beforeEach(() => tb.bridge.resetStats());

  // A script no Redis has seen yet, so the NOSCRIPT path really runs.
  const freshScript = () => `#!lua flags=allow-key-locking
  -- ${randomUUID()}
  local n = redis.call("INCRBY", KEYS[1], ARGV[1])
  return {n, "tag"}`;

  it('runs a flagged script with EVAL, then with EVALSHA of the original text', async () => {
    const redis = tb.client({ enableAutoPipelining: false });
    const script = freshScript();
    expect(await redis.eval(script, [tb.key('eval')], [5])).toEqual([5, 'tag']);
    expect(await redis.evalsha(sha1Hex(Buffer.from(script)), [tb.key('eval')], [2])).toEqual([7, 'tag']);
    expect(await redis.evalshaRo(sha1Hex(Buffer.from(script)), [tb.key('eval')], [0]).catch((e: Error) => e.message)).toMatch(/write/i);
  });

  it('falls back from NOSCRIPT to EVAL once, then EVALSHA hits', async () => {
    const redis = tb.client({ enableAutoPipelining: false });
    const script = redis.createScript<[number, string]>(freshScript());
    expect(await script.exec([tb.key('fallback')], ['1'])).toEqual([1, 'tag']);
    expect(tb.bridge.stats().commandsByName).toEqual({ evalsha: 1, eval: 1 });
    expect(await script.exec([tb.key('fallback')], ['1'])).toEqual([2, 'tag']);
    expect(tb.bridge.stats().commandsByName).toEqual({ evalsha: 2, eval: 1 });
  });

  it('keeps NOSCRIPT in the error for an unknown SHA1', async () => {
    const redis = tb.client({ enableAutoPipelining: false });
    await expect(redis.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
  });

  it("answers SCRIPT LOAD with the client's SHA1 and SCRIPT EXISTS on it", async () => {
    const redis = tb.client({ enableAutoPipelining: false });
    const script = freshScript();
    const sha = sha1Hex(Buffer.from(script));
    expect(await redis.scriptExists(sha)).toEqual([0]);
    expect(await redis.scriptLoad(script)).toBe(sha);
    expect(await redis.scriptExists(sha, '0'.repeat(40))).toEqual([1, 0]);
    expect(await redis.evalsha(sha, [tb.key('loaded')], [3])).toEqual([3, 'tag']);
  });

  it('rewrites scripts inside pipelines and transactions too', async () => {
    const redis = tb.client({ enableAutoPipelining: false });
    const script = freshScript();
    const sha = sha1Hex(Buffer.from(script));
    const piped = await redis
      .pipeline()
      .eval(script, [tb.key('piped')], [1])
      .evalsha(sha, [tb.key('piped')], [1])
      .exec();
    expect(piped).toEqual([
      [1, 'tag'],
      [2, 'tag'],
    ]);
    const multi = await redis
      .multi()
      .evalsha(sha, [tb.key('piped')], [1])
      .get(tb.key('piped'))
      .exec();
    expect(multi).toEqual([[3, 'tag'], 3]);
  });
});
