/**
 * Store outages on request paths, rehearsed with the outage bridge's fault knobs (503s, dropped
 * connections, a 5 s stall) against the real worker in workerd: each path answers within its
 * deadline with a defined status, never a 500 and never a hang, and once the fault is cleared
 * everything works again with nothing accepted lost.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createApp } from '../app';
import { BASE } from '../testing/gateway-client';
import { seedTenantKey } from '../testing/seed';
import { clearStoreFaults, outageBindings, setStoreFaults, STORE_OUTAGES } from '../testing/store-faults';

const model = inject('model');
/** Every store call on a request path gives up after this long. */
const STORE_TIMEOUT_MS = 1_000;

afterEach(async () => {
  await clearStoreFaults();
});

/** An app whose store is the outage bridge; `send` times each request and waits for its background work. */
function gateway() {
  const app = createApp();
  const bindings = outageBindings({ STORE_TIMEOUT_MS: String(STORE_TIMEOUT_MS) });
  return {
    async send(path: string, init: RequestInit & { headers?: Record<string, string> }) {
      const ctx = createExecutionContext();
      const started = Date.now();
      const res = await app.request(`${BASE}${path}`, init, bindings, ctx);
      const body = await res.text();
      const ms = Date.now() - started;
      return { res, body, ms, background: () => waitOnExecutionContext(ctx) };
    },
  };
}

const json = (key: string, body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

describe.each(STORE_OUTAGES)('store $name', ({ name, faults }) => {
  it('keeps serving a plain inference request (fail-open limits, no other store call)', async () => {
    const gw = gateway();
    const { key } = await seedTenantKey();
    const infer = (prompt: string) => gw.send('/v1/infer', json(key, { model, prompt, params: { max_tokens: 2, temperature: 0.7 } }));
    expect((await infer('warm the key cache')).res.status).toBe(200);
    await setStoreFaults(faults);
    const during = await infer('during the outage');
    console.warn(`store ${name}: POST /v1/infer → ${during.res.status} in ${during.ms} ms`);
    expect(during.res.status).toBe(200);
    expect(during.ms).toBeLessThan(STORE_TIMEOUT_MS + 1_500);
    await clearStoreFaults();
    expect((await infer('after the outage')).res.status).toBe(200);
  });
});
