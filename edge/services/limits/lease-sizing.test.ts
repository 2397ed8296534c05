/** Lease sizing: pure logic, on an explicit clock. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEASE_POLICY, DemandMeter, leaseTarget } from './lease-sizing';

/** Records one unit every `everyMs` from `from` for `count` requests; returns the last instant. */
function steady(meter: DemandMeter, from: number, everyMs: number, count: number): number {
  let at = from;
  for (let i = 0; i < count; i += 1, at += everyMs) meter.record(1, at);
  return at - everyMs;
}

describe('DemandMeter', () => {
  it('reads a steady rate from a fifth of its time constant into a run of demand, not only after several', () => {
    const meter = new DemandMeter(5_000);
    const last = steady(meter, 10_000, 10, 100); // 100 req/s for 1 s
    expect(meter.rateAt(last) * 1000).toBeGreaterThan(90);
    expect(meter.rateAt(last) * 1000).toBeLessThan(115);
    // Long into the run it still reads the rate (the correction fades to 1).
    const later = steady(meter, last + 10, 10, 2_000);
    expect(meter.rateAt(later) * 1000).toBeGreaterThan(95);
    expect(meter.rateAt(later) * 1000).toBeLessThan(105);
  });

  it('never reads a first request or two as a flood, and decays once demand stops', () => {
    const meter = new DemandMeter(5_000);
    meter.record(1, 0);
    // One unit, watched as if over τ/5: at most 1 / (τ · (1 − e^(−1/5))) per ms.
    expect(meter.rateAt(0)).toBeLessThanOrEqual(1 / (5_000 * (1 - Math.exp(-0.2))) + 1e-12);
    const last = steady(meter, 1, 10, 500);
    const busy = meter.rateAt(last);
    expect(meter.rateAt(last + 20_000)).toBeLessThan(busy * 0.05);
  });

  it('starts a new run after a pause it has mostly forgotten', () => {
    const meter = new DemandMeter(5_000);
    const first = steady(meter, 0, 10, 300);
    const resumed = first + 60_000;
    const last = steady(meter, resumed, 10, 100);
    expect(meter.rateAt(last) * 1000).toBeGreaterThan(90);
    expect(meter.rateAt(last) * 1000).toBeLessThan(115);
  });
});

describe('leaseTarget', () => {
  it("holds the policy's horizon of demand one second into a tenant's load, capped by its share of what remains", () => {
    const meter = new DemandMeter(5_000);
    const last = steady(meter, 0, 10, 100);
    // 100 req/s × 5 s horizon ≈ 500 units, far below 10 % of a huge window.
    const target = leaseTarget(DEFAULT_LEASE_POLICY, meter, last, 1e9, 1);
    expect(target).toBeGreaterThan(450);
    expect(target).toBeLessThan(575);
    expect(leaseTarget(DEFAULT_LEASE_POLICY, meter, last, 1_000, 1)).toBe(100);
    expect(leaseTarget(DEFAULT_LEASE_POLICY, meter, last, 9, 1)).toBe(0);
  });
});
