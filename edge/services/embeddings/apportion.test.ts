/** Largest-remainder apportioning of a batched call's tokens: whole parts that add up to the total exactly. */
import { describe, expect, it } from 'vitest';
import { apportion } from './apportion';

const sum = (parts: number[]) => parts.reduce((a, b) => a + b, 0);

describe('apportion', () => {
  it('splits in proportion when the shares are whole', () => {
    expect(apportion(100, [1, 3, 6])).toEqual([10, 30, 60]);
  });

  it('gives the tokens left to the largest remainders, ties to the earlier caller', () => {
    expect(apportion(10, [1, 1, 1])).toEqual([4, 3, 3]);
    expect(apportion(7, [5, 3, 2])).toEqual([4, 2, 1]);
  });

  it('scales estimates to the backend count, which may be above or below them', () => {
    expect(apportion(13, [4, 4])).toEqual([7, 6]);
    expect(apportion(3, [10, 20, 30])).toEqual([1, 1, 1]);
  });

  it('splits evenly when every weight is zero, and gives nothing to nobody', () => {
    expect(apportion(5, [0, 0])).toEqual([3, 2]);
    expect(apportion(5, [])).toEqual([]);
  });

  it('always adds up to the total exactly', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let round = 0; round < 500; round++) {
      const weights = Array.from({ length: 1 + (next() % 40) }, () => next() % 1_000);
      const total = next() % 100_000;
      const parts = apportion(total, weights);
      expect(sum(parts)).toBe(total);
      expect(parts.every((p) => Number.isInteger(p) && p >= 0)).toBe(true);
      const weightSum = sum(weights);
      // No part is more than one token away from its exact share.
      if (weightSum > 0) {
        for (const [i, p] of parts.entries()) expect(Math.abs(p - (total * weights[i]!) / weightSum)).toBeLessThan(1);
      }
    }
  });
});
