/**
 * Monthly spend budgets through the worker (workerd, Redis behind the bridge, the model server):
 * the limit and what is left on every limited answer, the refusal once the month's spend would pass
 * the limit (429 BUDGET_EXCEEDED, Retry-After to the month's end, `insufficient_quota` on the OpenAI
 * routes), the spend settled to what the usage ledger bills, and an async job held to the same
 * budget: its maximum cost reserved at submission, its real cost settled when its consumer ends it.
 */
import { Webhook } from 'standardwebhooks';
import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateWebhookSecret } from '../../../shared/crypto/hmac';
import { utcMonth } from '../../../shared/contracts/usage';
import { BASE, modelConfig, modelReset, post } from '../../testing/gateway-client';
import { seedTenantKey, store } from '../../testing/seed';
import { exportedRecords } from '../../testing/usage';
import { receivedAt, receiver } from '../../testing/webhooks';
import { budgetKey, secondsToMonthEnd } from './budget';

const model = 'mistral-7b-instruct-lmi';

afterEach(async () => {
  await modelReset();
});

describe('monthly spend budgets', () => {
  it('admits while the reservation fits, then refuses until the month ends', async () => {
    const seeded = await seedTenantKey({ overrides: { monthlyBudgetMicros: 300 } });
    const body = { model, prompt: 'spend a little', params: { max_tokens: 6 } };
    const first = await post('/v1/infer', seeded.key, body);
    expect(first.status).toBe(200);
    const answer = (await first.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    expect(first.headers.get('x-budget-limit')).toBe('300');
    expect(Number(first.headers.get('x-budget-remaining'))).toBeLessThan(300);
    // The example price: 0.5 and 1.5 per 1M tokens, 0.0001 per request.
    const cost = Math.round(answer.usage.prompt_tokens * 0.5 + answer.usage.completion_tokens * 1.5 + 100);
    const key = budgetKey(seeded.tenant.tenantId, utcMonth(Date.now()));
    const settled = async () => Number(await store.get(key));
    for (let i = 0; i < 50 && (await settled()) !== cost; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await settled()).toBe(cost);

    expect((await (await post('/v1/infer', seeded.key, body)).text()).length).toBeGreaterThan(0);
    const refused = await post('/v1/infer', seeded.key, body);
    expect(refused.status).toBe(429);
    const envelope = (await refused.json()) as { error: { code: string } };
    expect(envelope.error.code).toBe('BUDGET_EXCEEDED');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(Math.abs(retryAfter - secondsToMonthEnd(Date.now()))).toBeLessThanOrEqual(2);
    expect(refused.headers.get('x-budget-limit')).toBe('300');

    const openai = await post('/v1/chat/completions', seeded.key, { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 6 });
    expect(openai.status).toBe(429);
    expect(((await openai.json()) as { error: { type: string; code: string } }).error).toMatchObject({ type: 'insufficient_quota', code: 'BUDGET_EXCEEDED' });

    // Each refusal is in the ledger at cost 0; the month's spend is what the ledger billed.
    const records = await vi.waitUntil(
      async () => {
        const list = await exportedRecords(seeded.tenant.tenantId);
        return list.length >= 4 ? list : undefined;
      },
      { timeout: 20_000, interval: 300 },
    );
    const refusals = records.filter((r) => r.status === 429);
    expect(refusals.map((r) => r.error_code)).toEqual(['BUDGET_EXCEEDED', 'BUDGET_EXCEEDED']);
    for (const r of refusals) expect(r.cost_micros).toBe(0);
    expect(records.reduce((sum, r) => sum + r.cost_micros, 0)).toBe(await settled());
  });

  it('sends no budget header and reserves nothing for a tenant without a budget', async () => {
    const seeded = await seedTenantKey();
    const res = await post('/v1/infer', seeded.key, { model, prompt: 'no budget here', params: { max_tokens: 3 } });
    expect(res.status).toBe(200);
    await res.text();
    expect(res.headers.get('x-budget-limit')).toBeNull();
    expect(await store.get(budgetKey(seeded.tenant.tenantId, utcMonth(Date.now())))).toBeNull();
  });

  it('notifies the tenant’s callback, signed, once at 80 % and once at 100 % of the month', async () => {
    const secret = generateWebhookSecret();
    const path = `/callbacks/budget-${crypto.randomUUID()}`;
    const seeded = await seedTenantKey({ overrides: { monthlyBudgetMicros: 300 }, tenant: { callbackUrl: `${receiver}${path}`, webhookSecrets: [secret] } });
    const body = { model, prompt: 'spend a little', params: { max_tokens: 6 } };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await post('/v1/infer', seeded.key, body);
      statuses.push(res.status);
      await res.text();
      // Each request's spend settles in the background before the next reserves.
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses.slice(2)).toEqual([429, 429]);
    const notices = await vi.waitUntil(
      async () => {
        const { received } = await receivedAt(path);
        return received.length >= 2 ? received : undefined;
      },
      { timeout: 20_000, interval: 200 },
    );
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await receivedAt(path)).received).toHaveLength(2);
    const thresholds = notices.map((n) => {
      const verified = new Webhook(secret).verify(n.body, n.headers) as { type: string; data: { threshold_percent: number; month: string } };
      expect(verified.type).toBe('budget.threshold');
      expect(verified.data.month).toBe(utcMonth(Date.now()));
      return verified.data.threshold_percent;
    });
    expect(thresholds.sort()).toEqual([100, 80]);
  });

  it('holds a job to the budget: its maximum cost reserved at submission, its real cost settled when it ends, 429 once over', async () => {
    const seeded = await seedTenantKey({ scopes: ['infer', 'jobs'], overrides: { monthlyBudgetMicros: 300 } });
    const key = budgetKey(seeded.tenant.tenantId, utcMonth(Date.now()));
    const spent = async () => Number(await store.get(key));
    // A slow first token keeps the job running while the reservation is read.
    await modelConfig({ ttftMs: 1_500 });
    const submitted = await post('/v1/jobs', seeded.key, { model, prompt: 'a budgeted job', params: { max_tokens: 6 } });
    expect(submitted.status).toBe(202);
    const { id } = (await submitted.json()) as { id: string };
    expect(submitted.headers.get('x-budget-limit')).toBe('300');
    const reserved = 300 - Number(submitted.headers.get('x-budget-remaining'));
    // The reservation is the maximum cost: the per-request fee (100) and 6 completion tokens at 1.5 at least.
    expect(reserved).toBeGreaterThanOrEqual(100 + 9);
    expect(await spent()).toBe(reserved);

    const job = await vi.waitUntil(
      async () => {
        const read = (await (await SELF.fetch(`${BASE}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${seeded.key}` } })).json()) as {
          status: string;
          result?: { usage: { prompt_tokens: number; completion_tokens: number } };
        };
        return read.status === 'succeeded' ? read : undefined;
      },
      { timeout: 20_000, interval: 200 },
    );
    const usage = job.result!.usage;
    const cost = Math.round(usage.prompt_tokens * 0.5 + usage.completion_tokens * 1.5 + 100);
    // The reservation (an estimate of the prompt) gives way to the real cost, once: the ended job keeps no reservation.
    await vi.waitUntil(async () => (await spent()) === cost, { timeout: 10_000, interval: 100 });
    const stored = await store.get(`gw:job:${id}`);
    const ended = (typeof stored === 'string' ? JSON.parse(stored) : stored) as { status: string; budget?: unknown };
    expect(ended).toMatchObject({ status: 'succeeded' });
    expect(ended.budget).toBeUndefined();
    // The job's record bills what the month's spend settled to.
    const record = await vi.waitUntil(async () => (await exportedRecords(seeded.tenant.tenantId)).find((r) => r.route === '/v1/jobs'), {
      timeout: 20_000,
      interval: 300,
    });
    expect(record).toMatchObject({ route: '/v1/jobs', cost_micros: cost });

    // Close to the limit: the next job's maximum cost does not fit, it is refused at submission and nothing is held.
    await store.set(key, 300 - 50);
    const refused = await post('/v1/jobs', seeded.key, { model, prompt: 'one job too many', params: { max_tokens: 6 } });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('BUDGET_EXCEEDED');
    expect(Math.abs(Number(refused.headers.get('retry-after')) - secondsToMonthEnd(Date.now()))).toBeLessThanOrEqual(2);
    expect(refused.headers.get('x-budget-remaining')).toBe('50');
    await new Promise((r) => setTimeout(r, 300));
    expect(await spent()).toBe(250);
  });
});
