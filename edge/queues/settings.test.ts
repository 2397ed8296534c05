import { describe, expect, it } from 'vitest';
import { EdgeConfigError, type Bindings } from '../env';
import { settlementOf } from './consumer';
import type { Outcome } from './outcome';
import { PLATFORM_ATTEMPTS } from './platform-attempts';
import {
  deadLetterRetryDelaySeconds,
  getAsyncSettings,
  MAX_ATTEMPTS,
  retryDelaySeconds,
  STORE_OUTAGE_RETRY_SECONDS,
  STORE_RETRY_CAP_SECONDS,
  storeOutageMaxAttempts,
  type AsyncSettings,
} from './settings';

const settingsOf = (vars: Record<string, string>) => getAsyncSettings(vars as unknown as Bindings);

function configErrorOf(vars: Record<string, string>): string {
  try {
    settingsOf(vars);
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a EdgeConfigError');
}

const sourcesOf = (sources: Record<string, unknown>, vars: Record<string, string> = {}) =>
  settingsOf({ WEBHOOK_SOURCES: JSON.stringify(sources), SECRET: 'whsec_c2VjcmV0', ...vars });

describe('webhook source actions', () => {
  const job = { action: 'job', template: { model: 'llama', prompt: 'Summarize: {{payload.text}}' } };

  it('reads the tenant and the actions, compiled for matching', () => {
    const source = sourcesOf({
      billing: { scheme: 'standard', secrets: ['SECRET'], tenant: 'ten_billing', actions: { 'invoice.*': job, '*': { action: 'eventbridge' } } },
    }).sources.get('billing');
    expect(source).toMatchObject({ tenant: 'ten_billing', forwardUrl: undefined });
    expect(source?.actions.prefixes.map((p) => p.pattern)).toEqual(['invoice.*']);
    expect(source?.actions.fallback).toEqual({ action: 'eventbridge' });
  });

  it('keeps forwardUrl alone as shorthand for forwarding every event there', () => {
    const source = sourcesOf({ old: { scheme: 'standard', secrets: ['SECRET'], forwardUrl: 'https://fn.example/' } }).sources.get('old');
    expect(source?.actions).toMatchObject({ exact: new Map(), prefixes: [], fallback: { action: 'forward' } });
    expect(source?.forwardUrl).toBe('https://fn.example/');
  });

  it('refuses at start-up, naming the field: a job action without a tenant, a forward without a URL, a source without actions, a bad pattern', () => {
    expect(configErrorOf({ WEBHOOK_SOURCES: JSON.stringify({ s: { scheme: 'standard', secrets: ['SECRET'], actions: { 'a.*': job } } }), SECRET: 'x' })).toBe(
      "invalid edge configuration: WEBHOOK_SOURCES.s.tenant: required: the job action of 'a.*' creates jobs for a tenant",
    );
    expect(
      configErrorOf({ WEBHOOK_SOURCES: JSON.stringify({ s: { scheme: 'standard', secrets: ['SECRET'], actions: { 'a.b': { action: 'forward' } } } }) }),
    ).toBe('invalid edge configuration: WEBHOOK_SOURCES.s.actions.a.b.url: required: the source has no forwardUrl to default to');
    expect(configErrorOf({ WEBHOOK_SOURCES: JSON.stringify({ s: { scheme: 'standard', secrets: ['SECRET'] } }) })).toBe(
      'invalid edge configuration: WEBHOOK_SOURCES.s.actions: required: give actions (or a forwardUrl to forward every event)',
    );
    expect(
      configErrorOf({ WEBHOOK_SOURCES: JSON.stringify({ s: { scheme: 'standard', secrets: ['SECRET'], tenant: 'Not A Tenant', actions: { '*': job } } }) }),
    ).toBe('invalid edge configuration: WEBHOOK_SOURCES.s.tenant: is not a tenant id');
    expect(
      configErrorOf({
        WEBHOOK_SOURCES: JSON.stringify({
          s: { scheme: 'standard', secrets: ['SECRET'], tenant: 'ten_x', actions: { '*': { action: 'job', template: { model: 'm' } } } },
        }),
      }),
    ).toBe('invalid edge configuration: WEBHOOK_SOURCES.s.actions.*.template.prompt: give exactly one of prompt or messages');
  });

  it('defaults the bus to the environment’s and the endpoint to the region’s, and reads the job deadline', () => {
    expect(settingsOf({}).eventBridge).toEqual({ endpoint: undefined, busName: 'inference-gateway-local-events' });
    expect(settingsOf({ ENVIRONMENT: 'prod' }).eventBridge.busName).toBe('inference-gateway-prod-events');
    expect(settingsOf({ EVENTBRIDGE_ENDPOINT: 'http://127.0.0.1:4010/', EVENT_BUS_NAME: 'custom-bus' }).eventBridge).toEqual({
      endpoint: 'http://127.0.0.1:4010/',
      busName: 'custom-bus',
    });
    expect(settingsOf({}).jobDeadlineSeconds).toBe(3_600);
    expect(settingsOf({ JOB_DEADLINE_SECONDS: '30' }).jobDeadlineSeconds).toBe(30);
    expect(configErrorOf({ JOB_DEADLINE_SECONDS: '0' })).toMatch(/^invalid edge configuration: JOB_DEADLINE_SECONDS: /);
    expect(configErrorOf({ EVENTBRIDGE_ENDPOINT: 'ftp://bus' })).toMatch(/^invalid edge configuration: EVENTBRIDGE_ENDPOINT: /);
    expect(configErrorOf({ EVENT_BUS_NAME: 'no spaces allowed' })).toBe('invalid edge configuration: EVENT_BUS_NAME: not an event bus name or ARN');
  });
});

describe('getAsyncSettings', () => {
  it('reads webhook sources with their secrets (several per binding for rotation)', () => {
    const env = {
      WEBHOOK_SOURCES: JSON.stringify({ stripe: { scheme: 'timestamp', secrets: ['STRIPE_SECRET'], actions: { '*': { action: 'eventbridge' } } } }),
      STRIPE_SECRET: 'old, new',
    } as unknown as Bindings;
    expect(getAsyncSettings(env).sources.get('stripe')).toMatchObject({ scheme: 'timestamp', secrets: ['old', 'new'] });
  });

  it('names every bad setting: invalid JSON, a bad source field, a bad number', () => {
    expect(configErrorOf({ WEBHOOK_SOURCES: '{oops' })).toBe('invalid edge configuration: WEBHOOK_SOURCES: is not valid JSON');
    expect(configErrorOf({ WEBHOOK_SOURCES: JSON.stringify({ s: { scheme: 'nope', secrets: ['X'] } }), WEBHOOK_TOLERANCE_SECONDS: '-5' })).toMatch(
      /^invalid edge configuration: WEBHOOK_SOURCES\.s\.scheme: .+; WEBHOOK_TOLERANCE_SECONDS: /,
    );
  });

  it('times a delivery out after DELIVERY_TIMEOUT_MS, 30 s by default', () => {
    expect(settingsOf({}).deliveryTimeoutMs).toBe(30_000);
    expect(settingsOf({ DELIVERY_TIMEOUT_MS: '1500' }).deliveryTimeoutMs).toBe(1_500);
    expect(configErrorOf({ DELIVERY_TIMEOUT_MS: 'soon' })).toMatch(/^invalid edge configuration: DELIVERY_TIMEOUT_MS: /);
    expect(configErrorOf({ DELIVERY_TIMEOUT_MS: '10' })).toMatch(/DELIVERY_TIMEOUT_MS: /);
  });

  it('refuses delivery attempts that, with the store-outage retries, would outlast the queue', () => {
    // Base 1 s needs 12 store-outage retries: 20 callback attempts fit the 32 the queue allows, 21 do not.
    expect(settingsOf({ QUEUE_RETRY_BASE_SECONDS: '1', DELIVERY_MAX_ATTEMPTS: '20' }).deliveryMaxAttempts).toBe(20);
    expect(configErrorOf({ QUEUE_RETRY_BASE_SECONDS: '1', DELIVERY_MAX_ATTEMPTS: '21' })).toBe(
      'invalid edge configuration: DELIVERY_MAX_ATTEMPTS: the deliveries consumer would need 33 attempts (its work plus 600 s of store-outage retries); the queue allows 32',
    );
  });
});

/** The shortest delays (jitter at its floor) of `count` consecutive retries from `first`. */
const shortest = (cause: 'backend' | 'store', first: number, count: number, base: number) =>
  Array.from({ length: count }, (_, i) => retryDelaySeconds(cause, first + i, base, () => 0));

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('retry schedules', () => {
  it('backs a backend failure off exponentially with jitter in the upper half, capped at an hour', () => {
    expect(shortest('backend', 1, 4, 30)).toEqual([15, 30, 60, 120]);
    expect([1, 2, 3, 4].map((a) => retryDelaySeconds('backend', a, 30, () => 1))).toEqual([30, 60, 120, 240]);
    expect(retryDelaySeconds('backend', 30, 30, () => 1)).toBe(3600);
  });

  it.each([0, 1, 30, 300, 3600])('retries a store outage for at least 600 s in all before dead-lettering (base %i s)', (base) => {
    for (const work of [MAX_ATTEMPTS, 12]) {
      const limit = storeOutageMaxAttempts(work, base);
      // The outage retries a message gets however its backend failures (at most work - 1) interleave:
      // the fewest are the cheapest, at the earliest attempts.
      const retries = limit - 1 - (work - 1);
      const total = sum(shortest('store', 1, retries, base));
      expect(total).toBeGreaterThanOrEqual(STORE_OUTAGE_RETRY_SECONDS);
      // …and no more than one step longer than needed.
      expect(total - retryDelaySeconds('store', retries, base, () => 0)).toBeLessThan(STORE_OUTAGE_RETRY_SECONDS);
    }
    // A recovery is noticed within the cap, even at the largest base.
    expect(retryDelaySeconds('store', 40, base, () => 1)).toBeLessThanOrEqual(STORE_RETRY_CAP_SECONDS);
    console.warn(
      `store-outage schedule at base ${base} s: ${storeOutageMaxAttempts(MAX_ATTEMPTS, base)} attempts for a job, shortest delays ${JSON.stringify(shortest('store', 1, storeOutageMaxAttempts(MAX_ATTEMPTS, base) - 1, base))}`,
    );
  });

  it('fits every consumer schedule inside its queue (max_retries + 1), at every allowed base', () => {
    for (const base of [0, 1, 2, 5, 30, 600, 3600]) {
      expect(storeOutageMaxAttempts(MAX_ATTEMPTS, base)).toBeLessThanOrEqual(PLATFORM_ATTEMPTS.jobs);
      expect(storeOutageMaxAttempts(12, base)).toBeLessThanOrEqual(PLATFORM_ATTEMPTS.deliveries);
    }
    expect(MAX_ATTEMPTS).toBeLessThanOrEqual(PLATFORM_ATTEMPTS.webhooks);
  });

  it('keeps retrying an unrecorded dead letter for more than a day within the DLQ consumer’s attempts', () => {
    for (const base of [1, 30]) {
      const delays = Array.from({ length: PLATFORM_ATTEMPTS.deadLetters - 1 }, (_, i) => deadLetterRetryDelaySeconds(i + 1, base, () => 0));
      expect(sum(delays)).toBeGreaterThan(86_400);
    }
  });
});

describe('settlementOf', () => {
  const settings = { retryBaseSeconds: 30, deliveryMaxAttempts: 12 } as AsyncSettings;
  const store: Outcome = { kind: 'retry', cause: 'store', reason: 'store get failed: fetch failed' };
  const backend = (attempt: number): Outcome => ({ kind: 'retry', cause: 'backend', attempt, reason: 'UPSTREAM_ERROR: 503' });

  it('gives a backend failure of a job three attempts, whatever the queue count', () => {
    expect(settlementOf(backend(1), 1, 'job', settings).action).toBe('retry');
    expect(settlementOf(backend(2), 9, 'job', settings).action).toBe('retry');
    expect(settlementOf(backend(3), 10, 'job', settings)).toEqual({ action: 'dead', reason: 'UPSTREAM_ERROR: 503' });
  });

  it('retries a continuous store outage of a job for at least 600 s, then dead-letters it once', () => {
    for (const backendFailuresFirst of [0, 1, 2]) {
      let attempt = 1 + backendFailuresFirst;
      let waited = 0;
      for (;;) {
        const next = settlementOf(store, attempt, 'job', settings, () => 0);
        if (next.action !== 'retry') {
          expect(next.action).toBe('dead');
          break;
        }
        waited += next.delaySeconds;
        attempt++;
      }
      console.warn(`job store outage after ${backendFailuresFirst} backend failures: dead-lettered at attempt ${attempt} after ${waited} s of retries`);
      expect(waited).toBeGreaterThanOrEqual(STORE_OUTAGE_RETRY_SECONDS);
      expect(attempt).toBeLessThanOrEqual(PLATFORM_ATTEMPTS.jobs);
    }
  });

  it('turns a wait into a requeue with the delay asked for, whatever the attempt, within the queue’s 12 h', () => {
    const wait = (delaySeconds: number): Outcome => ({ kind: 'wait', delaySeconds, reason: 'RATE_LIMITED' });
    expect(settlementOf(wait(42), 1, 'webhook', settings)).toEqual({ action: 'requeue', delaySeconds: 42 });
    expect(settlementOf(wait(42), PLATFORM_ATTEMPTS.webhooks, 'webhook', settings)).toEqual({ action: 'requeue', delaySeconds: 42 });
    expect(settlementOf(wait(0.2), 1, 'webhook', settings)).toEqual({ action: 'requeue', delaySeconds: 1 });
    expect(settlementOf(wait(86_400), 1, 'webhook', settings)).toEqual({ action: 'requeue', delaySeconds: 43_200 });
  });

  it('retries a store outage of a webhook event (a job action reads the store) for at least 600 s', () => {
    let attempt = 1;
    let waited = 0;
    for (;;) {
      const next = settlementOf(store, attempt, 'webhook', settings, () => 0);
      if (next.action !== 'retry') break;
      waited += next.delaySeconds;
      attempt++;
    }
    expect(waited).toBeGreaterThanOrEqual(STORE_OUTAGE_RETRY_SECONDS);
    expect(attempt).toBeLessThanOrEqual(PLATFORM_ATTEMPTS.webhooks);
  });

  it('never retries past the queue’s last attempt', () => {
    expect(settlementOf(store, PLATFORM_ATTEMPTS.deliveries, 'delivery', { ...settings, retryBaseSeconds: 1 }).action).toBe('dead');
    expect(settlementOf(backend(2), PLATFORM_ATTEMPTS.webhooks, 'webhook', settings).action).toBe('dead');
  });
});
