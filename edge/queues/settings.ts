/**
 * Settings of webhook ingest, async jobs and outbound delivery, parsed once per isolate from the
 * Worker bindings (edge/env.ts declares them). `WEBHOOK_SOURCES` names each source's scheme and the
 * bindings that hold its secrets (Worker secrets: `wrangler secret put WEBHOOK_SECRET_X`), so a
 * secret never sits in a plain var. A binding may hold several comma-separated secrets (rotation).
 */
import * as z from 'zod';
import { describeIssues, jsonString } from '../../shared/settings';
import { ConfigError, type Bindings } from '../env';
import type { Priority } from '../../shared/plans';

export const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const SourceSchema = z
  .object({
    /** `standard`: Standard Webhooks; `timestamp`: `t=<unix>,v1=<hex>` (X-Signature, Stripe-Signature). */
    scheme: z.enum(['standard', 'timestamp']),
    /** Binding names holding the secrets (each may hold a comma-separated list). */
    secrets: z
      .array(z.string().regex(/^[A-Z][A-Z0-9_]*$/))
      .min(1)
      .max(8),
    /** Header of the `timestamp` scheme; default `X-Signature`. */
    header: z.string().min(1).max(64).default('X-Signature'),
    /** Where the consumer forwards verified events: a Function URL, SigV4-signed (service lambda). */
    forwardUrl: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict();

const SourcesSchema = z.record(z.string().regex(SOURCE_NAME), SourceSchema);

export interface WebhookSource {
  readonly name: string;
  readonly scheme: 'standard' | 'timestamp';
  readonly header: string;
  readonly secrets: readonly string[];
  readonly forwardUrl: string | undefined;
}

/** Long per-tier timeouts of async jobs (the sync route's are much shorter). */
export const JOB_TIMEOUT_MS: Readonly<Record<Priority, number>> = { vip: 60_000, standard: 120_000, low: 300_000 };

/** Attempts of a webhook forward or a job before its message goes to the dead-letter queue. */
export const MAX_ATTEMPTS = 3;

export interface AsyncSettings {
  readonly sources: ReadonlyMap<string, WebhookSource>;
  readonly toleranceSeconds: number;
  readonly retryBaseSeconds: number;
  readonly deliveryMaxAttempts: number;
  readonly jobResultTtlSeconds: number;
  readonly allowLoopbackCallbacks: boolean;
}

const NumbersSchema = z.object({
  toleranceSeconds: z.coerce.number().int().min(1).max(3600).default(300),
  retryBaseSeconds: z.coerce.number().int().min(0).max(3600).default(30),
  deliveryMaxAttempts: z.coerce.number().int().min(1).max(100).default(12),
  jobResultTtlSeconds: z.coerce.number().int().min(60).default(86_400),
});

// One parse per bindings object, as getConfig does.
const parsed = new WeakMap<Bindings, AsyncSettings>();

function secretsOf(env: Bindings, names: readonly string[], source: string): string[] {
  const values = env as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const name of names) {
    const raw = values[name];
    if (typeof raw !== 'string' || raw.trim() === '')
      throw new ConfigError(`invalid edge configuration: WEBHOOK_SOURCES.${source}: secret binding ${name} is not set`);
    out.push(
      ...raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
  return out;
}

/** Parses (once) the async settings of these bindings; throws ConfigError naming the bad setting. */
export function getAsyncSettings(env: Bindings): AsyncSettings {
  const cached = parsed.get(env);
  if (cached) return cached;
  const sources = jsonString.pipe(SourcesSchema).safeParse(env.WEBHOOK_SOURCES || '{}');
  const numbers = NumbersSchema.safeParse({
    toleranceSeconds: env.WEBHOOK_TOLERANCE_SECONDS || undefined,
    retryBaseSeconds: env.QUEUE_RETRY_BASE_SECONDS || undefined,
    deliveryMaxAttempts: env.DELIVERY_MAX_ATTEMPTS || undefined,
    jobResultTtlSeconds: env.JOB_RESULT_TTL_SECONDS || undefined,
  });
  if (!sources.success || !numbers.success) {
    const issues = [...(sources.error ? describeIssues(sources.error, 'WEBHOOK_SOURCES.') : []), ...(numbers.error ? describeIssues(numbers.error) : [])];
    throw new ConfigError(`invalid edge configuration: ${issues.join('; ')}`);
  }
  const map = new Map<string, WebhookSource>();
  for (const [name, s] of Object.entries(sources.data)) {
    map.set(name, { name, scheme: s.scheme, header: s.header, secrets: secretsOf(env, s.secrets, name), forwardUrl: s.forwardUrl });
  }
  const settings: AsyncSettings = { sources: map, ...numbers.data, allowLoopbackCallbacks: env.CALLBACK_ALLOW_LOOPBACK === 'true' };
  parsed.set(env, settings);
  return settings;
}

/**
 * Delay before the next attempt: exponential from the base, capped at an hour, with full jitter in
 * its upper half so a burst of failures does not retry in lockstep. Whole seconds (the queue's unit).
 */
export function backoffSeconds(attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  const ceiling = Math.min(3600, baseSeconds * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
