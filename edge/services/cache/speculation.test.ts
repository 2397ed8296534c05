import { describe, expect, it } from 'vitest';
import { LookupHitRatio, MIN_LOOKUPS } from './speculation';

const fed = (hits: number, misses: number) => {
  const ratio = new LookupHitRatio();
  for (let i = 0; i < misses; i++) ratio.record(false);
  for (let i = 0; i < hits; i++) ratio.record(true);
  return ratio;
};

describe('LookupHitRatio', () => {
  it('does not speculate before it has seen MIN_LOOKUPS lookups, nor when the share is 0', () => {
    expect(fed(0, MIN_LOOKUPS - 1).speculate(0.02)).toBe(false);
    expect(fed(0, MIN_LOOKUPS).speculate(0.02)).toBe(true);
    expect(fed(0, 1000).speculate(0)).toBe(false);
  });

  it('speculates while recent lookups hit less often than the share, and stops when they hit more', () => {
    const ratio = fed(0, 500);
    expect(ratio.ratio()).toBe(0);
    expect(ratio.speculate(0.02)).toBe(true);
    // Two hits in the last hundred lookups: about 1 % of the weighted window, still below 5 %.
    for (let i = 0; i < 100; i++) ratio.record(i % 50 === 0);
    expect(ratio.ratio()).toBeGreaterThan(0.005);
    expect(ratio.speculate(0.05)).toBe(true);
    for (let i = 0; i < 20; i++) ratio.record(true);
    expect(ratio.ratio()).toBeGreaterThan(0.05);
    expect(ratio.speculate(0.05)).toBe(false);
  });

  it('weighs recent lookups most: a run of misses after hits brings it back below the share', () => {
    const ratio = fed(200, 0);
    expect(ratio.ratio()).toBeCloseTo(1, 5);
    expect(ratio.speculate(0.02)).toBe(false);
    for (let i = 0; i < 1000; i++) ratio.record(false);
    expect(ratio.ratio()).toBeLessThan(0.02);
    expect(ratio.speculate(0.02)).toBe(true);
  });
});
