/**
 * Idempotency-Key through the worker in workerd with the record in Redis: replay without a second
 * backend call (sync and stream), 409 for another body, 409 while the first is still running,
 * tenant-scoped keys, and a malformed key rejected.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { eventually, modelConfig, modelReset, modelStats, post } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';

const model = inject('model');

afterEach(async () => {
  await modelReset();
});

/** Sends until the first response is stored (a 409 "in progress" means the record is still pending). */
const replayOf = (key: string, idem: string, body: unknown, path = '/v1/infer') =>
  eventually(
    () => post(path, key, body, { 'idempotency-key': idem }),
    (r) => r.status !== 409,
  );

describe('Idempotency-Key', () => {
  it('returns the first response again without a second backend call', async () => {
    const { key } = await seedTenantKey();
    const idem = crypto.randomUUID();
    const body = { model, prompt: 'charge me once', params: { temperature: 0.9, max_tokens: 6 } };
    const first = await post('/v1/infer', key, body, { 'idempotency-key': idem });
    expect(first.status).toBe(200);
    const firstBody = await first.text();
    const calls = (await modelStats()).invocations;
    const again = await replayOf(key, idem, body);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(firstBody);
    const after = (await modelStats()).invocations;
    console.warn(`idempotency: backend calls for 2 requests with one key: ${after - calls + 1}`);
    expect(after).toBe(calls);
  });

  it('replays a stream as the same SSE body', async () => {
    const { key } = await seedTenantKey();
    const idem = crypto.randomUUID();
    const body = { model, prompt: 'stream once', params: { max_tokens: 5 } };
    const first = await post('/v1/infer/stream', key, body, { 'idempotency-key': idem });
    const firstText = await first.text();
    const again = await replayOf(key, idem, body, '/v1/infer/stream');
    expect(again.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(await again.text()).toBe(firstText);
  });

  it('answers 409 CONFLICT when the key is reused with another body', async () => {
    const { key } = await seedTenantKey();
    const idem = crypto.randomUUID();
    expect((await post('/v1/infer', key, { model, prompt: 'first body' }, { 'idempotency-key': idem })).status).toBe(200);
    const res = await post('/v1/infer', key, { model, prompt: 'second body' }, { 'idempotency-key': idem });
    expect(res.status).toBe(409);
    const body = ErrorEnvelopeSchema.parse(await res.json());
    expect(body.error.code).toBe('CONFLICT');
    expect(body.error.message).toMatch(/different request body/);
  });

  it('answers 409 with Retry-After while the first request is still running', async () => {
    const { key } = await seedTenantKey();
    await modelConfig({ ttftMs: 1500 });
    const idem = crypto.randomUUID();
    const body = { model, prompt: 'slow and once', params: { max_tokens: 3 } };
    const before = (await modelStats()).invocations;
    const first = post('/v1/infer', key, body, { 'idempotency-key': idem });
    // Send the duplicate only once the first has claimed the key and reached the model.
    await eventually(modelStats, (s) => s.invocations > before);
    const inFlight = await post('/v1/infer', key, body, { 'idempotency-key': idem });
    expect(inFlight.status).toBe(409);
    expect(inFlight.headers.get('retry-after')).toBe('1');
    expect(ErrorEnvelopeSchema.parse(await inFlight.json()).error.message).toMatch(/still in progress/);
    expect((await first).status).toBe(200);
  });

  it('scopes keys to the tenant', async () => {
    const a = await seedTenantKey();
    const b = await seedTenantKey();
    const idem = crypto.randomUUID();
    expect((await post('/v1/infer', a.key, { model, prompt: 'tenant a' }, { 'idempotency-key': idem })).status).toBe(200);
    const other = await post('/v1/infer', b.key, { model, prompt: 'tenant b' }, { 'idempotency-key': idem });
    expect(other.status).toBe(200);
    expect(other.headers.get('idempotent-replayed')).toBeNull();
  });

  it('rejects a malformed key with 400', async () => {
    const { key } = await seedTenantKey();
    const res = await post('/v1/infer', key, { model, prompt: 'x' }, { 'idempotency-key': 'x'.repeat(300) });
    expect(res.status).toBe(400);
  });
});
