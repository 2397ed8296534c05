import { describe, expect, it } from 'vitest';
import type { InvocationOutcome } from './handle-invoke';
import { ClientClosedError, UpstreamError } from './errors';
import { recordOutcome, type LogSink, type MetricsSink } from './telemetry';

type Call = [string, ...unknown[]];

function fakes() {
  const logs: Call[] = [];
  const published: Array<{ dimensions: Record<string, string>; metrics: Record<string, number> }> = [];
  let dimensions: Record<string, string> = {};
  let stored: Record<string, number> = {};
  const metrics: MetricsSink = {
    addDimension: (name, value) => (dimensions[name] = value),
    addMetric: (name, _unit, value) => (stored[name] = value),
    publishStoredMetrics: () => {
      published.push({ dimensions, metrics: stored });
      dimensions = {};
      stored = {};
    },
  };
  const logger: LogSink = {
    info: (...args: unknown[]) => void logs.push(['info', ...args]),
    warn: (...args: unknown[]) => void logs.push(['warn', ...args]),
    error: (...args: unknown[]) => void logs.push(['error', ...args]),
    debug: (...args: unknown[]) => void logs.push(['debug', ...args]),
  };
  return { logs, published, logger, metrics };
}

const outcome = (over: Partial<InvocationOutcome> = {}): InvocationOutcome => ({
  requestId: 'r1',
  tenantId: 'ten_secret_tenant',
  model: 'llama',
  modelKnown: true,
  backend: 'sagemaker',
  target: 'ep-1',
  stream: true,
  status: 200,
  error: undefined,
  midStream: false,
  latencyMs: 120,
  modelLatencyMs: 100,
  ttftMs: 15,
  usage: { prompt_tokens: 7, completion_tokens: 9 },
  finishReason: 'length',
  tokenEvents: 9,
  request: { request_id: 'r1', tenant_id: 'ten_secret_tenant', model: 'llama', prompt: 'my secret prompt', params: {}, stream: true },
  output: 'the private output',
  ...over,
});

describe('recordOutcome', () => {
  it('logs one structured line with ids, model, backend, latency and tokens, and never the prompt or output', () => {
    const f = fakes();
    recordOutcome(outcome(), { ...f, logPayloads: false });
    expect(f.logs).toHaveLength(1);
    const [level, message, fields] = f.logs[0]!;
    expect([level, message]).toEqual(['info', 'invoke']);
    expect(fields).toMatchObject({
      request_id: 'r1',
      tenant_id: 'ten_secret_tenant',
      model: 'llama',
      backend: 'sagemaker',
      latency_ms: 120,
      ttft_ms: 15,
      prompt_tokens: 7,
      completion_tokens: 9,
    });
    expect(JSON.stringify(f.logs)).not.toMatch(/secret prompt|private output/);
  });

  it('logs the prompt and output at DEBUG only when payload logging is on', () => {
    const f = fakes();
    recordOutcome(outcome(), { ...f, logPayloads: true });
    expect(f.logs[1]).toEqual(['debug', 'invoke payload', { request_id: 'r1', prompt: 'my secret prompt', output: 'the private output' }]);
  });

  it('emits the request metrics with the model as the only dimension (no tenant id)', () => {
    const f = fakes();
    recordOutcome(outcome(), { ...f, logPayloads: false });
    expect(f.published).toEqual([
      { dimensions: { model: 'llama' }, metrics: { Requests: 1, Latency: 120, ModelLatency: 100, TimeToFirstToken: 15, TokensIn: 7, TokensOut: 9 } },
    ]);
  });

  it('counts errors by code, keeps unknown models out of the dimensions, and warns with the cause', () => {
    const f = fakes();
    const error = new UpstreamError(503, 'down', { reason: 'no_capacity', cause: new Error('ValidationError: no capacity') });
    recordOutcome(
      outcome({ status: 503, error, model: 'attacker-chosen-name', modelKnown: false, usage: undefined, ttftMs: undefined, modelLatencyMs: undefined }),
      { ...f, logPayloads: false },
    );
    expect(f.logs[0]).toMatchObject([
      'warn',
      'invoke failed',
      { error_code: 'UPSTREAM_ERROR', reason: 'no_capacity', cause_message: 'ValidationError: no capacity' },
    ]);
    expect(f.published).toEqual([
      { dimensions: { model: 'unknown' }, metrics: { Requests: 1, Latency: 120 } },
      { dimensions: { model: 'unknown', error_code: 'UPSTREAM_ERROR' }, metrics: { Errors: 1 } },
    ]);
  });

  it('records a caller that left as a disconnect, not an error', () => {
    const f = fakes();
    recordOutcome(outcome({ status: 499, error: new ClientClosedError() }), { ...f, logPayloads: false });
    expect(f.logs[0]?.[0]).toBe('info');
    expect(f.published).toHaveLength(1);
    expect(f.published[0]?.metrics).toMatchObject({ ClientDisconnects: 1 });
  });
});

describe('recordOutcome on an unexpected failure', () => {
  it('logs the cause by name and message only, never the Error object or its stack', () => {
    const f = fakes();
    const cause = new TypeError('boom in a dependency');
    const error = new UpstreamError(502, 'the adapter failed unexpectedly', { cause });
    recordOutcome(outcome({ status: 500, error }), { ...f, logPayloads: false });
    const [level, , fields] = f.logs[0]!;
    expect(level).toBe('error');
    expect(fields).toMatchObject({ cause_name: 'TypeError', cause_message: 'boom in a dependency' });
    expect(JSON.stringify(f.logs)).not.toContain(cause.stack!.split('\n')[1]!.trim());
    expect(Object.values(fields as object).some((v) => v instanceof Error)).toBe(false);
  });
});
