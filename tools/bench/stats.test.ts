/** The bench's paired statistic (pure logic): how npm start's p50 is compared with the bench stack's. */
import { describe, expect, it } from 'vitest';
import { npmStartDelta } from './goals';
import type { ModeResult } from './load';
import { median, pairedDifferences } from './stats';

const mode = (p50: number, roundP50s?: number[]): ModeResult => ({
  summary: { count: 100, p50, p95: p50 * 2, p99: p50 * 3, mean: p50, max: p50 * 4, rps: 100 },
  statuses: { 200: 100 },
  unexpected: 0,
  ...(roundP50s ? { roundP50s } : {}),
});

describe('the paired median difference', () => {
  it('takes the median of the rounds differences, pairing rounds by index', () => {
    const paired = (a: number[], b: number[]) => median(pairedDifferences(a, b));
    // Odd count: the middle difference; a slow round moves both sides and cancels out.
    expect(pairedDifferences([10, 30, 12], [9, 29.5, 14])).toEqual([1, 0.5, -2]);
    expect(paired([10, 30, 12], [9, 29.5, 14])).toBe(0.5);
    // Even count: the mean of the two middle differences.
    expect(paired([10, 11, 12, 13], [10, 10, 10, 10])).toBe(1.5);
    // Extra rounds on one side have no partner and are left out.
    expect(pairedDifferences([5, 6, 100], [4, 4])).toEqual([1, 2]);
    expect(paired([5, 6, 100], [4, 4])).toBe(1.5);
    expect(paired([], [1])).toBeNaN();
  });

  it('decides npm start against the bench on the paired figure when rounds were kept, else on the pooled p50s', () => {
    // Pooled p50s 4 ms apart because one stack's slow rounds weighed more; each round alone shows 0.2 to 0.4 ms.
    const paired = npmStartDelta({ bench: mode(20, [18, 25, 19]), npmStart: mode(24, [18.2, 25.4, 19.3]) });
    expect(paired).toMatchObject({ bench: 20, npmStart: 24, perRound: [0.2, 0.4, 0.3], paired: 0.3, decided: 0.3 });
    const pooled = npmStartDelta({ bench: mode(20), npmStart: mode(24) });
    expect(pooled).toMatchObject({ perRound: [], paired: undefined, decided: 4 });
  });
});
