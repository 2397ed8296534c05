import { afterEach, describe, expect, it, vi } from 'vitest';
import { randomBytes } from './random';

afterEach(() => {
  vi.restoreAllMocks();
});

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

describe('randomBytes', () => {
  it('hands out each pooled byte once: 10,000 ids of 16 bytes are all distinct', () => {
    const ids = Array.from({ length: 10_000 }, () => randomBytes(16));
    expect(ids.every((id) => id.length === 16)).toBe(true);
    expect(new Set(ids.map(hex)).size).toBe(10_000);
  });

  it('calls WebCrypto once per 4 KiB of ids, and directly for larger asks', () => {
    const spy = vi.spyOn(crypto, 'getRandomValues');
    for (let i = 0; i < 2_560; i++) randomBytes(16);
    // 40 KiB of ids from 10 or 11 fills (the pool may have been part-used before).
    expect(spy.mock.calls.length).toBeGreaterThanOrEqual(10);
    expect(spy.mock.calls.length).toBeLessThanOrEqual(11);
    spy.mockClear();
    expect(randomBytes(5_000).length).toBe(5_000);
    expect(spy.mock.calls.map(([array]) => (array as Uint8Array).length)).toEqual([5_000]);
  });

  it('returns copies: changing one id changes no other', () => {
    const a = randomBytes(8);
    const b = randomBytes(8);
    const before = hex(b);
    a.fill(0);
    expect(hex(b)).toBe(before);
  });
});
