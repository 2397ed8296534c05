/**
 * The batcher as a unit, with a fake backend call (the route tests prove it through the worker in
 * workerd against the model server): concurrent callers merged into one call and split back in
 * order, the size cap, the flush timeout, apportioned usage, an aborted member dropped from a batch
 * not yet sent, a caller's deadline, and a failed call failing only its own batch.
 */
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../errors';
import { type BatchRequest, EmbeddingBatcher } from './batcher';

type Call = { inputs: string[] };

function fakeBackend(options: { delayMs?: number; fail?: (inputs: string[]) => boolean } = {}) {
  const calls: Call[] = [];
  const send = async (inputs: (string | number[])[]) => {
    const texts = inputs.map(String);
    calls.push({ inputs: texts });
    await new Promise((r) => setTimeout(r, options.delayMs ?? 1));
    if (options.fail?.(texts)) throw new ApiError('UPSTREAM_ERROR', 'the batch failed');
    return { vectors: texts.map((t) => [t.length, 1]), promptTokens: texts.length * 10 + 1 };
  };
  return { calls, send };
}

const request = (inputs: string[], send: BatchRequest['send'], extra: Partial<BatchRequest> = {}): BatchRequest => ({
  key: 'm\nstandard\n',
  inputs,
  weights: inputs.map(() => 1),
  maxBatchInputs: 32,
  flushMs: 5,
  deadlineMs: 2_000,
  send,
  background: () => {},
  ...extra,
});

describe('EmbeddingBatcher', () => {
  it('merges concurrent callers into one call and gives each its own vectors, in order', async () => {
    const batcher = new EmbeddingBatcher();
    const backend = fakeBackend();
    const results = await Promise.all([
      batcher.embed(request(['a', 'bb'], backend.send)),
      batcher.embed(request(['ccc'], backend.send)),
      batcher.embed(request(['dddd', 'e'], backend.send)),
    ]);
    expect(backend.calls).toEqual([{ inputs: ['a', 'bb', 'ccc', 'dddd', 'e'] }]);
    expect(results.map((r) => r.vectors.map((v) => v[0]))).toEqual([[1, 2], [3], [4, 1]]);
    // 51 tokens over weights 2, 1, 2: the parts add up exactly.
    expect(results.map((r) => r.promptTokens)).toEqual([21, 10, 20]);
    expect(batcher.openBatches).toBe(0);
  });

  it('sends a full batch at once and starts another for the rest', async () => {
    const batcher = new EmbeddingBatcher();
    const backend = fakeBackend();
    const inputs = Array.from({ length: 70 }, (_, i) => `x${i}`);
    const started = Date.now();
    const result = await batcher.embed(request(inputs, backend.send, { flushMs: 200 }));
    expect(backend.calls.map((c) => c.inputs.length)).toEqual([32, 32, 6]);
    expect(result.vectors.map((v) => v[0])).toEqual(inputs.map((t) => t.length));
    expect(result.batches).toBe(3);
    // The last, partial batch waited its flush time; the full ones did not.
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('does not hold a batch past its flush time, and batches by key', async () => {
    const batcher = new EmbeddingBatcher();
    const backend = fakeBackend();
    const first = batcher.embed(request(['a'], backend.send, { flushMs: 2 }));
    await new Promise((r) => setTimeout(r, 30));
    const second = batcher.embed(request(['b'], backend.send, { flushMs: 2 }));
    const other = batcher.embed(request(['c'], backend.send, { flushMs: 2, key: 'm\nvip\n' }));
    await Promise.all([first, second, other]);
    // 'a' flushed alone before the others came; 'b' and 'c' flush at the same time, each in its own call (their order is the timers').
    expect(backend.calls[0]).toEqual({ inputs: ['a'] });
    expect(
      backend.calls
        .slice(1)
        .map((c) => c.inputs.join())
        .sort(),
    ).toEqual(['b', 'c']);
    expect(backend.calls).toHaveLength(3);
  });

  it('drops an aborted caller from a batch not yet sent; the others are answered', async () => {
    const batcher = new EmbeddingBatcher();
    const backend = fakeBackend();
    const abort = new AbortController();
    const leader = batcher.embed(request(['a'], backend.send, { flushMs: 40 }));
    const leaving = batcher.embed(request(['gone'], backend.send, { signal: abort.signal }));
    const staying = batcher.embed(request(['c'], backend.send));
    setTimeout(() => abort.abort(new ApiError('UPSTREAM_ERROR', 'client left')), 5);
    await expect(leaving).rejects.toThrow('client left');
    expect((await leader).vectors).toEqual([[1, 1]]);
    expect((await staying).vectors).toEqual([[1, 1]]);
    expect(backend.calls).toEqual([{ inputs: ['a', 'c'] }]);
  });

  it('still sends the batch for the others when its owner leaves', async () => {
    const batcher = new EmbeddingBatcher();
    const backend = fakeBackend();
    const abort = new AbortController();
    const background: Promise<unknown>[] = [];
    const owner = batcher.embed(request(['owner'], backend.send, { flushMs: 30, signal: abort.signal, background: (p) => background.push(p) }));
    const member = batcher.embed(request(['member'], backend.send));
    abort.abort(new ApiError('UPSTREAM_ERROR', 'owner left'));
    await expect(owner).rejects.toThrow('owner left');
    expect((await member).vectors).toEqual([[6, 1]]);
    expect(background).toHaveLength(1);
    expect(backend.calls).toEqual([{ inputs: ['member'] }]);
  });

  it('answers TIMEOUT past the caller deadline', async () => {
    const batcher = new EmbeddingBatcher();
    const backend = fakeBackend({ delayMs: 200 });
    const err = await batcher.embed(request(['slow'], backend.send, { deadlineMs: 50 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('TIMEOUT');
  });

  it('gives every member of a failed call the error, and leaves other batches alone', async () => {
    const batcher = new EmbeddingBatcher();
    const backend = fakeBackend({ fail: (inputs) => inputs.includes('bad') });
    const a = batcher.embed(request(['bad'], backend.send));
    const b = batcher.embed(request(['ok'], backend.send));
    const other = batcher.embed(request(['fine'], backend.send, { key: 'other' }));
    await expect(a).rejects.toThrow('the batch failed');
    await expect(b).rejects.toThrow('the batch failed');
    expect((await other).vectors).toEqual([[4, 1]]);
  });
});
