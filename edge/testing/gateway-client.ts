/**
 * Test support inside workerd for the limits, cache and idempotency tests: requests through the
 * worker (`SELF`, or an app with its own bindings), the bridge's Redis counters, the model server's
 * counters and knobs, and SSE reading.
 */
import { SELF } from 'cloudflare:test';
import { inject } from 'vitest';
import { SseParser, type SseMessage } from '../../shared/sse';

export const BASE = 'https://gateway.test';
const modelServer = () => inject('modelServerUrl');
const bridge = () => ({ url: inject('bridgeUrl'), auth: { authorization: `Bearer ${inject('bridgeToken')}` } });

/** POST JSON to the worker with a key. */
export function post(path: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export interface BridgeCounters {
  readonly httpRequests: number;
  readonly redisCommands: number;
  readonly commandsByName: Readonly<Record<string, number>>;
}

export const bridgeStats = (): Promise<BridgeCounters> =>
  fetch(`${bridge().url}/_bridge/stats`, { headers: bridge().auth }).then((r) => r.json() as Promise<BridgeCounters>);
export const resetBridgeStats = () => fetch(`${bridge().url}/_bridge/stats`, { method: 'DELETE', headers: bridge().auth }).then((r) => r.text());

/** Waits until the bridge has seen no request for a while (background refunds and writes done). */
export async function bridgeQuiet(): Promise<void> {
  let last = await bridgeStats();
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await bridgeStats();
    if (now.httpRequests === last.httpRequests) return;
    last = now;
  }
}

export interface ModelCounters {
  readonly invocations: number;
  readonly streamsCompleted: number;
  /** Invocations answered with an error (forced or at the error rate). */
  readonly failed: number;
  /** Generations ended because the client went away. */
  readonly cancelled: number;
}

export const modelStats = () =>
  fetch(`${modelServer()}/admin/stats`)
    .then((r) => r.json() as Promise<{ totals: ModelCounters }>)
    .then((s) => s.totals);
export const modelConfig = (config: Record<string, unknown>) =>
  fetch(`${modelServer()}/admin/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) }).then((r) =>
    r.text(),
  );
export const modelReset = () => fetch(`${modelServer()}/admin/reset`, { method: 'POST' }).then((r) => r.text());

/** Every SSE message of a response. */
export async function sseMessages(res: Response): Promise<SseMessage[]> {
  const parser = new SseParser();
  const text = await res.text();
  return [...parser.push(text), ...parser.end()];
}

/** Polls `read` until `done(value)`; the test's own timeout bounds it. */
export async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}
