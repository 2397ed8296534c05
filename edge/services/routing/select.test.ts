/**
 * Pure routing logic: canary shares over thousands of request ids, stickiness per tenant, the
 * candidate order, the breaker's state machine on an injected clock, and the backoff bounds.
 */
import { describe, expect, it } from 'vitest';
import { ModelRouteSchema, RouteTableSchema, DEFAULT_BREAKER, DEFAULT_RETRY } from '../route-table';
import { BackendHealth } from './health';
import { backoffMs, classify } from './policy';
import { candidates, pickBackend } from './select';
import { ApiError } from '../../errors';

const backend = (name: string, extra: Record<string, unknown> = {}) => ({ name, url: `https://${name}.example`, kind: 'sagemaker', ...extra });
const canaryRoute = (sticky = false) =>
  ModelRouteSchema.parse({
    backends: [backend('stable', { weight: 90, variant: 'stable' }), backend('canary', { weight: 10, variant: 'canary' })],
    fallbacks: [backend('spare')],
    sticky,
  });

describe('weighted selection', () => {
  it('sends 10 % ± 2 % of 2,000 requests to a 10 % canary', () => {
    const route = canaryRoute();
    let canary = 0;
    for (let i = 0; i < 2_000; i++) if (pickBackend(route, `ten_${i % 37}`, crypto.randomUUID()).name === 'canary') canary++;
    console.warn(`canary served ${canary} of 2000 (${(canary / 20).toFixed(1)} %)`);
    expect(canary).toBeGreaterThanOrEqual(160);
    expect(canary).toBeLessThanOrEqual(240);
  });

  it('is deterministic for the same tenant and request, and sticky per tenant when configured', () => {
    const loose = canaryRoute(false);
    expect(pickBackend(loose, 'ten_a', 'req_1').name).toBe(pickBackend(loose, 'ten_a', 'req_1').name);
    const sticky = canaryRoute(true);
    let tenantsOnCanary = 0;
    for (let t = 0; t < 500; t++) {
      const names = new Set(Array.from({ length: 20 }, () => pickBackend(sticky, `ten_${t}`, crypto.randomUUID()).name));
      expect(names.size).toBe(1);
      if (names.has('canary')) tenantsOnCanary++;
    }
    console.warn(`sticky: ${tenantsOnCanary} of 500 tenants pinned to the canary`);
    expect(tenantsOnCanary).toBeGreaterThan(25);
    expect(tenantsOnCanary).toBeLessThan(80);
  });

  it('never picks a weight-0 backend, and tries the pick, then the fallbacks', () => {
    const route = ModelRouteSchema.parse({ backends: [backend('a', { weight: 0 }), backend('b', { weight: 1 })], fallbacks: [backend('c'), backend('b')] });
    for (let i = 0; i < 200; i++) expect(pickBackend(route, 't', String(i)).name).toBe('b');
    expect(candidates(route, 't', 'r').map((c) => [c.backend.name, c.role, c.variant])).toEqual([
      ['b', 'primary', 'b'],
      ['c', 'fallback', undefined],
    ]);
  });

  it('keeps the original table shape: first backend serves, the others are its fallbacks', () => {
    const table = RouteTableSchema.parse({ models: { m: { backends: [backend('sagemaker'), backend('ecs', { kind: 'ecs' })] } } });
    expect(candidates(table.models.m!, 't', 'r').map((c) => c.backend.name)).toEqual(['sagemaker', 'ecs']);
  });

  it('refuses one backend name with two URLs, and weights that are all 0', () => {
    expect(
      RouteTableSchema.safeParse({ models: { m: { backends: [backend('x')], fallbacks: [{ ...backend('x'), url: 'https://other.example' }] } } }).success,
    ).toBe(false);
    expect(ModelRouteSchema.safeParse({ backends: [backend('x', { weight: 0 })] }).success).toBe(false);
  });
});

describe('circuit breaker', () => {
  it('opens after 5 failures in 60 s, half-opens after 60 s with a single probe, closes on success', () => {
    const health = new BackendHealth();
    let now = 1_000_000;
    for (let i = 0; i < 4; i++) expect(health.record('b', 'failure', DEFAULT_BREAKER, now++)).toBeUndefined();
    expect(health.record('b', 'neutral', DEFAULT_BREAKER, now)).toBeUndefined();
    expect(health.record('b', 'failure', DEFAULT_BREAKER, now)).toMatchObject({ from: 'closed', to: 'open', failures: 5 });
    expect(health.admit('b', DEFAULT_BREAKER, now + 59_999)).toMatchObject({ allowed: false, reason: 'open' });
    now += 60_000;
    expect(health.admit('b', DEFAULT_BREAKER, now)).toMatchObject({ allowed: true, probe: true, transition: { to: 'half-open' } });
    expect(health.admit('b', DEFAULT_BREAKER, now + 1)).toMatchObject({ allowed: false });
    expect(health.record('b', 'success', DEFAULT_BREAKER, now + 2)).toMatchObject({ from: 'half-open', to: 'closed' });
    expect(health.admit('b', DEFAULT_BREAKER, now + 3)).toMatchObject({ allowed: true, probe: false });
  });

  it('forgets failures older than the window, and re-opens when the probe fails', () => {
    const health = new BackendHealth();
    const settings = { ...DEFAULT_BREAKER, failureThreshold: 2, windowMs: 1_000, openMs: 5_000 };
    health.record('b', 'failure', settings, 0);
    expect(health.record('b', 'failure', settings, 1_500)).toBeUndefined();
    expect(health.record('b', 'failure', settings, 1_600)?.to).toBe('open');
    expect(health.admit('b', settings, 6_600)).toMatchObject({ allowed: true, probe: true });
    expect(health.record('b', 'failure', settings, 6_700)).toMatchObject({ from: 'half-open', to: 'open' });
    expect(health.admit('b', settings, 7_000)).toMatchObject({ allowed: false, retryAfterMs: 4_700 });
  });
});

describe('retry policy', () => {
  it('retries only connection errors, 429 and 503; never client errors', () => {
    const err = (status: 400 | 429 | 502 | 503, reason?: string, retryAfter?: string) =>
      new ApiError(status === 400 ? 'INVALID_INPUT' : 'UPSTREAM_ERROR', 'x', {
        status,
        details: reason ? { reason } : undefined,
        headers: retryAfter ? { 'Retry-After': retryAfter } : {},
      });
    expect(classify(err(503, 'unreachable'))).toMatchObject({ kind: 'retry', breaker: 'failure' });
    expect(classify(err(429, 'model_overloaded', '2'))).toMatchObject({ kind: 'retry', breaker: 'neutral', retryAfterMs: 2_000 });
    expect(classify(err(503, 'unavailable', '1'))).toMatchObject({ kind: 'retry', breaker: 'failure' });
    expect(classify(err(503, 'no_capacity', '30'))).toMatchObject({ kind: 'warming', breaker: 'neutral' });
    expect(classify(err(502, 'model_error'))).toMatchObject({ kind: 'fallback', breaker: 'failure' });
    expect(classify(err(400, 'model_rejected_input'))).toMatchObject({ kind: 'client', breaker: 'neutral' });
  });

  it('backs off with full jitter under an exponential cap, never below Retry-After', () => {
    const waits = Array.from({ length: 1_000 }, () => backoffMs(3, DEFAULT_RETRY, undefined));
    expect(Math.max(...waits)).toBeLessThan(DEFAULT_RETRY.baseMs * 4);
    expect(Math.min(...waits)).toBeLessThan(DEFAULT_RETRY.baseMs);
    expect(backoffMs(1, DEFAULT_RETRY, 1_000, () => 0.99)).toBe(1_000);
    expect(backoffMs(10, DEFAULT_RETRY, undefined, () => 0.999)).toBeLessThanOrEqual(DEFAULT_RETRY.capMs);
  });
});
