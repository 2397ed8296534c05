/**
 * Test support for routing against the real local stack: the adapters' Function URLs from the
 * stack's route table, a dead URL, route tables built per test (unique backend names, so breaker
 * state never leaks between tests), the model server's fault knobs and counters, and an app with an
 * injectable clock and its own metrics.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { inject } from 'vitest';
import { createApp } from '../app';
import { IsolateMetrics, type MetricSeries } from '../services/metrics';
import { RouteTableSchema, type TierTimeouts } from '../services/route-table';
import { BackendHealth } from '../services/routing/health';
import { TenantDirectory } from '../services/tenant-directory';

const edgeVars = inject('edgeVars');
const modelServer = inject('modelServerUrl');
const stackTable = RouteTableSchema.parse(JSON.parse(edgeVars.ROUTE_TABLE!));

/** The model both adapters serve (tools/stack/stack.ts LOCAL_FALLBACK_MODEL), with its fault keys. */
export const FAULT_MODEL = 'resilience-7b';
export const SM_ENDPOINT = 'resilience-7b-sm';
export const ECS_MODEL_ID = 'resilience-7b-vllm';

/** The SageMaker and ECS adapters' Function URLs, and a port nothing listens on (connection refused). */
export const urls = {
  sagemaker: stackTable.models[FAULT_MODEL]!.backends[0]!.url,
  ecs: stackTable.models[FAULT_MODEL]!.fallbacks[0]!.url,
  dead: 'http://127.0.0.1:9',
};

/** A unique backend name, so each test has fresh breaker state. */
export const unique = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`;

type BackendSpec = {
  name: string;
  url: string;
  kind: 'sagemaker' | 'ecs';
  weight?: number;
  variant?: string;
  timeouts?: Partial<TierTimeouts>;
};
export const sm = (name = unique('sm'), extra: Partial<BackendSpec> = {}): BackendSpec => ({ name, url: urls.sagemaker, kind: 'sagemaker', ...extra });
export const ecs = (name = unique('ecs'), extra: Partial<BackendSpec> = {}): BackendSpec => ({ name, url: urls.ecs, kind: 'ecs', ...extra });
export const dead = (name = unique('dead')): BackendSpec => ({ name, url: urls.dead, kind: 'sagemaker' });

/** A route table for {@link FAULT_MODEL} only (plus top-level settings). */
export function tableFor(
  route: { backends: BackendSpec[]; fallbacks?: BackendSpec[]; shadow?: BackendSpec; sticky?: boolean },
  settings: Record<string, unknown> = {},
) {
  return { models: { [FAULT_MODEL]: route }, ...settings };
}

/** Patches the model server's configuration (`PUT /admin/config`). */
export async function faults(config: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${modelServer}/admin/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(config) });
  if (!res.ok) throw new Error(`model server refused ${JSON.stringify(config)}: ${await res.text()}`);
}

export const resetModelServer = () => fetch(`${modelServer}/admin/reset`, { method: 'POST' }).then((r) => r.text());

type Counters = { invocations: number; cancelled: number; streamsStarted: number; streamsCompleted: number; failed: number; succeeded: number };
/** Counters of one endpoint (SageMaker endpoint name or vLLM model id). */
export async function endpointStats(key: string): Promise<Counters> {
  const stats = (await fetch(`${modelServer}/admin/stats`).then((r) => r.json())) as { byEndpoint: Record<string, Counters> };
  return stats.byEndpoint[key] ?? { invocations: 0, cancelled: 0, streamsStarted: 0, streamsCompleted: 0, failed: 0, succeeded: 0 };
}

/** The sum of a counter's series matching `dimensions`. */
export function counted(series: MetricSeries[], metric: string, dimensions: Record<string, string> = {}): number {
  return series
    .filter((s) => s.metric === metric && Object.entries(dimensions).every(([k, v]) => s.dimensions[k as keyof typeof s.dimensions] === v))
    .reduce((sum, s) => sum + s.values.reduce((a, b, i) => a + b * (s.counts[i] ?? 1), 0), 0);
}

/** An app on `table` with its own clock and metrics; `send` times each call. */
export function gateway(table: unknown) {
  let now = Date.now();
  const clock = () => now;
  const metrics = new IsolateMetrics();
  const health = new BackendHealth();
  const app = createApp({ now: clock, directory: new TenantDirectory({ now: clock }), metrics, health });
  const bindings = { ...env, ROUTE_TABLE: JSON.stringify(table) };
  return {
    metrics,
    /** This app's breaker and warming state. */
    health,
    advance: (ms: number) => (now += ms),
    /** Moves the injected clock to real time (after a real wait). */
    sync: () => (now = Math.max(now, Date.now())),
    async send(key: string, path: string, body: Record<string, unknown>, init: { signal?: AbortSignal } = {}) {
      const started = Date.now();
      const ctx = createExecutionContext();
      const res = await app.request(
        path,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: FAULT_MODEL, ...body }),
          signal: init.signal,
        },
        bindings,
        ctx,
      );
      return { res, ms: Date.now() - started, background: () => waitOnExecutionContext(ctx) };
    },
  };
}
