/**
 * The real Powertools instances behind recordOutcome: the JSON log line and the CloudWatch EMF
 * documents they print (captured from the console, which Powertools writes to in dev mode; with
 * metrics explicitly enabled), and tracing and metrics off in a plain local run.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { UpstreamError } from '../core/errors';
import type { InvocationOutcome } from '../core/handle-invoke';
import { recordOutcome } from '../core/telemetry';
import { createPowertools } from './powertools';

const ENV_KEYS = ['POWERTOOLS_DEV', 'POWERTOOLS_METRICS_DISABLED', 'POWERTOOLS_LOG_LEVEL', 'AWS_EXECUTION_ENV', 'POWERTOOLS_TRACE_ENABLED'] as const;
let saved: Record<string, string | undefined>;
let printed: string[];

beforeEach(() => {
  saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  printed = [];
  for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, method).mockImplementation((first: unknown) => void printed.push(String(first)));
  }
});
afterEach(() => {
  vi.restoreAllMocks();
  for (const k of ENV_KEYS)
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
});

const outcome: InvocationOutcome = {
  requestId: 'r-42',
  tenantId: 'ten_acme',
  model: 'llama',
  modelKnown: true,
  backend: 'sagemaker',
  target: 'llama-ep',
  stream: true,
  status: 503,
  error: new UpstreamError(503, 'warming', { reason: 'no_capacity', retryAfterSeconds: 30 }),
  midStream: false,
  latencyMs: 12,
  modelLatencyMs: undefined,
  ttftMs: undefined,
  usage: undefined,
  finishReason: undefined,
  tokenEvents: undefined,
  request: { request_id: 'r-42', tenant_id: 'ten_acme', model: 'llama', prompt: 'confidential prompt', params: {}, stream: true },
  output: undefined,
};

function jsonLines(): Array<Record<string, unknown>> {
  return printed.filter((p) => p.startsWith('{')).map((p) => JSON.parse(p) as Record<string, unknown>);
}

describe('Powertools in Lambda', () => {
  it('prints a JSON log line and EMF documents whose dimensions carry no tenant id', () => {
    process.env['AWS_EXECUTION_ENV'] = 'AWS_Lambda_nodejs22.x';
    process.env['POWERTOOLS_TRACE_ENABLED'] = 'false';
    process.env['POWERTOOLS_DEV'] = 'true';
    process.env['POWERTOOLS_METRICS_DISABLED'] = 'false';
    const { logger, metrics } = createPowertools('sagemaker-adapter', { logPayloads: false, metricsNamespace: 'InferenceGateway' });
    recordOutcome(outcome, { logger, metrics, logPayloads: false });
    const lines = jsonLines();
    const log = lines.find((l) => l['message'] === 'invoke failed');
    expect(log).toMatchObject({
      level: 'WARN',
      service: 'sagemaker-adapter',
      request_id: 'r-42',
      tenant_id: 'ten_acme',
      model: 'llama',
      backend: 'sagemaker',
      error_code: 'UPSTREAM_ERROR',
    });
    const emf = lines.filter((l) => '_aws' in l) as Array<{
      _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> };
    }>;
    expect(emf).toHaveLength(2);
    const directives = emf.map((d) => d._aws.CloudWatchMetrics[0]!);
    expect(directives.map((d) => d.Namespace)).toEqual(['InferenceGateway', 'InferenceGateway']);
    expect(directives.map((d) => d.Dimensions[0]!.sort())).toEqual([
      ['model', 'service'],
      ['error_code', 'model', 'service'],
    ]);
    expect(directives[1]!.Metrics.map((m) => m.Name)).toEqual(['Errors']);
    expect(JSON.stringify(emf)).not.toContain('ten_acme');
    expect(printed.join('')).not.toContain('confidential prompt');
  });
});

describe('Powertools locally', () => {
  it('keeps tracing off outside Lambda and prints no metrics with POWERTOOLS_DEV', () => {
    process.env['POWERTOOLS_DEV'] = 'true';
    const { tracer, metrics, logger } = createPowertools('ecs-adapter', { logPayloads: false, metricsNamespace: 'InferenceGateway' });
    expect(tracer.isTracingEnabled()).toBe(false);
    recordOutcome(outcome, { logger, metrics, logPayloads: false });
    expect(jsonLines().filter((l) => '_aws' in l)).toEqual([]);
    expect(jsonLines().some((l) => l['message'] === 'invoke failed')).toBe(true);
  });
});
