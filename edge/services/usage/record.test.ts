/**
 * Pricing and the record's rules, as pure logic: costs in integer micro-units from the route table's
 * prices (cached hits at their own rates), nothing billed for refusals, replays and shadows, a price
 * table that is checked when the config is parsed, and ULIDs that sort by time.
 */
import { describe, expect, it } from 'vitest';
import { parseUsageBound, UsageRecordSchema } from '../../../shared/contracts/usage';
import { ULID_PATTERN, ulid } from '../../../shared/ulid';
import { EdgeConfigError, getConfig } from '../../env';
import { RouteTableSchema } from '../route-table';
import type { UsageFacts } from './facts';
import { costMicros, PriceSchema } from './prices';
import { factsCost, usageRecord } from './record';

const price = PriceSchema.parse({ inputPer1M: 0.5, outputPer1M: 1.5, perRequest: 0.0001, cached: { perRequest: 0.00001 } });
const table = RouteTableSchema.parse({ currency: 'EUR', models: { m: { backends: [{ name: 'b', url: 'https://b.example', kind: 'ecs' }], price } } });
const facts = (over: Partial<UsageFacts> = {}): UsageFacts => ({
  recordId: ulid(0),
  startedAt: 1_000,
  model: 'm',
  promptTokens: 1_000,
  completionTokens: 200,
  ...over,
});
const answered = {
  requestId: 'r',
  tenantId: 'ten_a',
  keyId: 'key_a',
  route: '/v1/infer',
  status: 200,
  errorCode: undefined,
  backend: 'b',
  variant: '',
  endedAt: 1_250,
};

describe('costs', () => {
  it('prices tokens per 1M and requests in integer micro-units', () => {
    expect(costMicros(price, { promptTokens: 1_000, completionTokens: 200, cached: false })).toBe(500 + 300 + 100);
    expect(costMicros(price, { promptTokens: 3, completionTokens: 1, cached: false })).toBe(Math.round(1.5 + 1.5 + 100));
    expect(costMicros(undefined, { promptTokens: 1_000, completionTokens: 1_000, cached: false })).toBe(0);
  });

  it('prices a cache hit at the cached rates, 0 unless set', () => {
    expect(costMicros(price, { promptTokens: 1_000, completionTokens: 200, cached: true })).toBe(10);
    expect(costMicros(PriceSchema.parse({ inputPer1M: 1 }), { promptTokens: 1_000, completionTokens: 0, cached: true })).toBe(0);
  });

  it('refuses a negative or unknown rate when the route table is parsed', () => {
    expect(() => PriceSchema.parse({ inputPer1M: -1 })).toThrow();
    expect(() => PriceSchema.parse({ perToken: 1 })).toThrow();
    const bad = JSON.stringify({ models: { m: { backends: [{ name: 'b', url: 'https://b.example', kind: 'ecs' }], price: { outputPer1M: -2 } } } });
    const env = {
      ROUTE_TABLE: bad,
      UPSTASH_REDIS_REST_URL: 'https://r.example',
      UPSTASH_REDIS_REST_TOKEN: 't',
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 's',
    };
    expect(() => getConfig(env)).toThrow(EdgeConfigError);
    expect(() => getConfig(env)).toThrow(/price\.outputPer1M/);
  });
});

describe('the ledger switch', () => {
  it('records by default, takes USAGE_LEDGER=off, and refuses any other value naming the setting', () => {
    const base = {
      ROUTE_TABLE: JSON.stringify({ models: { m: { backends: [{ name: 'b', url: 'https://b.example', kind: 'ecs' }] } } }),
      UPSTASH_REDIS_REST_URL: 'https://r.example',
      UPSTASH_REDIS_REST_TOKEN: 't',
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 's',
    };
    expect(getConfig({ ...base }).usageLedger).toBe('on');
    expect(getConfig({ ...base, USAGE_LEDGER: 'off' }).usageLedger).toBe('off');
    expect(() => getConfig({ ...base, USAGE_LEDGER: 'no' })).toThrow(/usageLedger/);
  });
});

describe('the usage record', () => {
  it('bills an answer at its model’s price, in the table’s currency', () => {
    const record = usageRecord(facts({ backendPromptTokens: 1_000, backendCompletionTokens: 200, cache: 'MISS' }), answered, table);
    expect(UsageRecordSchema.parse(record)).toEqual(record);
    expect(record).toMatchObject({ cost_micros: 900, currency: 'EUR', latency_ms: 250, cache: 'MISS', error_code: null });
  });

  it('bills nothing for a refusal, a replay or a shadow call', () => {
    expect(usageRecord(facts(), { ...answered, status: 429, errorCode: 'RATE_LIMITED' }, table).cost_micros).toBe(0);
    const replay = usageRecord(facts({ replayOf: ulid(0) }), answered, table);
    expect(replay.cost_micros).toBe(0);
    expect(replay.replay_of).toMatch(ULID_PATTERN);
    expect(usageRecord(facts(), { ...answered, shadow: true }, table)).toMatchObject({ cost_micros: 0, shadow: true });
  });

  it('prices a cache hit at the cached rate', () => {
    expect(usageRecord(facts({ cache: 'L1' }), answered, table).cost_micros).toBe(10);
  });

  it('prices a PARTIAL answer: embedded inputs at the full rates, cached ones at the cached rates, the per-request fee once', () => {
    const embeddings = PriceSchema.parse({ inputPer1M: 0.5, perRequest: 0.0001, cached: { inputPer1M: 0.1, perRequest: 0.00001 } });
    const priced = RouteTableSchema.parse({ models: { e: { backends: [{ name: 'b', url: 'https://b.example', kind: 'ecs' }], price: embeddings } } });
    const partial = facts({ model: 'e', cache: 'PARTIAL', promptTokens: 1_000, completionTokens: 0, backendPromptTokens: 600, backendCompletionTokens: 0 });
    // 600 embedded × 0.5 + the full per-request fee 100, then 400 cached × 0.1 and no cached per-request fee.
    expect(factsCost(partial, priced)).toBe(300 + 100 + 40);
    expect(usageRecord(partial, answered, priced).cost_micros).toBe(440);
    // The two ends: nothing cached is the full price, everything cached the hit price.
    expect(factsCost({ ...partial, backendPromptTokens: 1_000 }, priced)).toBe(
      costMicros(embeddings, { promptTokens: 1_000, completionTokens: 0, cached: false }),
    );
    expect(factsCost({ ...partial, cache: 'L2', backendPromptTokens: 0 }, priced)).toBe(
      costMicros(embeddings, { promptTokens: 1_000, completionTokens: 0, cached: true }),
    );
    // A backend count above the client's tokens never bills more than the full price.
    expect(factsCost({ ...partial, backendPromptTokens: 5_000 }, priced)).toBe(600);
    expect(factsCost(partial, undefined)).toBe(0);
  });
});

describe('usage bounds and ids', () => {
  it('reads a day as the whole UTC day and an ISO timestamp as itself', () => {
    expect(parseUsageBound('2026-12-01', false)).toBe(Date.UTC(2026, 11, 1));
    expect(parseUsageBound('2026-12-01', true)).toBe(Date.UTC(2026, 11, 2) - 1);
    expect(parseUsageBound('2026-12-01T10:00:00Z', true)).toBe(Date.UTC(2026, 11, 1, 10));
    expect(parseUsageBound('yesterday', false)).toBeUndefined();
    expect(parseUsageBound('2026-13-45', false)).toBeUndefined();
  });

  it('makes ULIDs that sort by time', () => {
    const ids = [ulid(1_000), ulid(2_000), ulid(1_700_000_000_000)];
    for (const id of ids) expect(id).toMatch(ULID_PATTERN);
    expect([...ids].sort()).toEqual(ids);
  });
});
