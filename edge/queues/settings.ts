/**
 * Settings of webhook ingest, async jobs and outbound delivery, parsed once per isolate from the
 * Worker bindings (edge/env.ts declares them). `WEBHOOK_SOURCES` names each source's scheme, the
 * bindings that hold its secrets (Worker secrets: `wrangler secret put WEBHOOK_SECRET_X`), so a
 * secret never sits in a plain var, and what the source does with its events: `actions` per event
 * type (actions.ts), run as the source's `tenant` when an action is a job. A binding may hold
 * several comma-separated secrets (rotation). `forwardUrl` alone is shorthand for forwarding every
 * event there (`{"*": {"action": "forward"}}`); next to `actions` it is the forwards' default URL.
 */
import * as z from 'zod';
import { eventBusName } from '../../shared/contracts/events';
import { TENANT_ID_PATTERN } from '../../shared/contracts/tenancy';
import { describeIssues, jsonString } from '../../shared/settings';
import { EdgeConfigError, type Bindings } from '../env';
import type { Priority } from '../../shared/plans';
import { BusSchema, SourceActionsSchema, type SourceActions } from './actions';
import { PLATFORM_ATTEMPTS } from './platform-attempts';

export const SOURCE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** The patterns of `actions` whose action is `kind`, in the order configured. */
function patternsOf(actions: SourceActions, kind: 'job' | 'forward'): string[] {
  const all = [
    ...[...actions.exact].map(([pattern, action]) => ({ pattern, action })),
    ...actions.prefixes,
    ...(actions.fallback ? [{ pattern: '*', action: actions.fallback }] : []),
  ];
  return all.filter((p) => p.action.action === kind && (kind === 'job' || !('url' in p.action && p.action.url))).map((p) => p.pattern);
}

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
    /** The tenant whose jobs the `job` actions create (its plan, limits and callback). */
    tenant: z.string().regex(TENANT_ID_PATTERN, 'is not a tenant id').optional(),
    /** What each event type does (actions.ts). */
    actions: SourceActionsSchema.optional(),
    /** Where forwards go without a `url` of their own: a Function URL, SigV4-signed (service lambda). Alone: forward every event. */
    forwardUrl: z.url({ protocol: /^https?$/ }).optional(),
  })
  .strict()
  .transform((source, ctx) => {
    const actions = source.actions ?? (source.forwardUrl ? SourceActionsSchema.parse({ '*': { action: 'forward' } }) : undefined);
    if (!actions) {
      ctx.addIssue({ code: 'custom', path: ['actions'], message: 'required: give actions (or a forwardUrl to forward every event)' });
      return z.NEVER;
    }
    const jobs = patternsOf(actions, 'job');
    if (jobs.length > 0 && source.tenant === undefined)
      ctx.addIssue({ code: 'custom', path: ['tenant'], message: `required: the job action of '${jobs[0]}' creates jobs for a tenant` });
    if (!source.forwardUrl)
      for (const pattern of patternsOf(actions, 'forward'))
        ctx.addIssue({ code: 'custom', path: ['actions', pattern, 'url'], message: 'required: the source has no forwardUrl to default to' });
    return { ...source, actions };
  });

const SourcesSchema = z.record(z.string().regex(SOURCE_NAME), SourceSchema);

export interface WebhookSource {
  readonly name: string;
  readonly scheme: 'standard' | 'timestamp';
  readonly header: string;
  readonly secrets: readonly string[];
  /** The tenant of the source's jobs (required when an action is a job). */
  readonly tenant: string | undefined;
  readonly actions: SourceActions;
  /** The default URL of its forwards. */
  readonly forwardUrl: string | undefined;
}

/** Long per-tier timeouts of async jobs (the sync route's are much shorter). */
export const JOB_TIMEOUT_MS: Readonly<Record<Priority, number>> = { vip: 60_000, standard: 120_000, low: 300_000 };

/** Attempts of a webhook forward or a job before its message goes to the dead-letter queue. */
export const MAX_ATTEMPTS = 3;

/**
 * Retry schedules of the queue consumers, all in one place. A failed attempt is retried with
 * exponential backoff from `QUEUE_RETRY_BASE_SECONDS`, with full jitter in the upper half of each
 * step so a burst of failures does not retry in lockstep. How long it is retried depends on what
 * failed:
 * - the work itself (the backend, a forward target, a callback): {@link MAX_ATTEMPTS} attempts
 *   (deliveries: `DELIVERY_MAX_ATTEMPTS`), steps capped at an hour;
 * - the store (Redis behind the Upstash REST API): until the retries' delays add up to at least
 *   {@link STORE_OUTAGE_RETRY_SECONDS}, steps capped at {@link STORE_RETRY_CAP_SECONDS} so a recovery
 *   is noticed soon;
 * - recording a dead letter (the store again): for days, as long as the platform keeps the letter.
 * The queues' `max_retries` in wrangler.toml is {@link PLATFORM_ATTEMPTS} minus one, so the platform
 * never gives up before the consumer does.
 */

/** Least total delay for which a store outage is retried before the message is dead-lettered. */
export const STORE_OUTAGE_RETRY_SECONDS = 600;
/** Longest step of the store-outage schedule. */
export const STORE_RETRY_CAP_SECONDS = 300;
/** Longest step of the backend and dead-letter schedules. */
const BACKEND_RETRY_CAP_SECONDS = 3600;

/** What made an attempt fail; decides which schedule retries it. */
export type FailureCause = 'backend' | 'store';

/** The step of attempt `attempt` (1-based): exponential from the base, capped. */
function stepSeconds(attempt: number, baseSeconds: number, capSeconds: number): number {
  return Math.min(capSeconds, baseSeconds * 2 ** Math.max(0, attempt - 1));
}

/** Whole seconds (the queue's unit) in the upper half of the step; never below half of it. */
function jittered(step: number, random: () => number): number {
  return Math.ceil(step / 2 + random() * (step / 2));
}

/** Delay before retrying attempt `attempt` of work whose backend (forward target, callback) failed. */
export function backoffSeconds(attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  return jittered(stepSeconds(attempt, baseSeconds, BACKEND_RETRY_CAP_SECONDS), random);
}

/** Delay before retrying attempt `attempt` of work that failed for `cause`. */
export function retryDelaySeconds(cause: FailureCause, attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  // A zero base (retry at once) is fine for the backend but would spin through a store outage.
  if (cause === 'store') return jittered(stepSeconds(attempt, Math.max(1, baseSeconds), STORE_RETRY_CAP_SECONDS), random);
  return backoffSeconds(attempt, baseSeconds, random);
}

/** Delay before retrying to record dead letter attempt `attempt`: the store was unavailable. */
export function deadLetterRetryDelaySeconds(attempt: number, baseSeconds: number, random: () => number = Math.random): number {
  return jittered(stepSeconds(attempt, Math.max(1, baseSeconds), BACKEND_RETRY_CAP_SECONDS), random);
}

/**
 * Store-outage retries a message gets: the fewest whose shortest delays add up to
 * {@link STORE_OUTAGE_RETRY_SECONDS}. Counted from the first attempt, the cheapest place for them
 * (the steps grow), so however backend failures interleave, the outage is retried at least that long.
 */
export function storeOutageRetries(baseSeconds: number): number {
  let total = 0;
  let retries = 0;
  while (total < STORE_OUTAGE_RETRY_SECONDS) {
    retries++;
    total += retryDelaySeconds('store', retries, baseSeconds, () => 0);
  }
  return retries;
}

/**
 * Attempts after which a store failure dead-letters the message: the work's own attempts (each may
 * fail for the backend once) plus the store-outage retries.
 */
export function storeOutageMaxAttempts(workAttempts: number, baseSeconds: number): number {
  return workAttempts + storeOutageRetries(baseSeconds);
}

/** Where `eventbridge` actions put events. */
export interface EventBridgeSettings {
  /** The PutEvents endpoint; undefined: `https://events.<AWS_REGION>.amazonaws.com/`. */
  readonly endpoint: string | undefined;
  /** The environment's bus, for actions that name none. */
  readonly busName: string;
}

export interface AsyncSettings {
  readonly sources: ReadonlyMap<string, WebhookSource>;
  readonly eventBridge: EventBridgeSettings;
  /** How long a webhook-triggered job may wait for its tenant's limits before it fails with RATE_LIMITED. */
  readonly jobDeadlineSeconds: number;
  readonly toleranceSeconds: number;
  readonly retryBaseSeconds: number;
  readonly deliveryMaxAttempts: number;
  /** How long one outbound delivery (a POST to a callback URL) may take before it counts as failed. */
  readonly deliveryTimeoutMs: number;
  readonly jobResultTtlSeconds: number;
  readonly allowLoopbackCallbacks: boolean;
}

const ScalarsSchema = z.object({
  toleranceSeconds: z.coerce.number().int().min(1).max(3600).default(300),
  retryBaseSeconds: z.coerce.number().int().min(0).max(3600).default(30),
  deliveryMaxAttempts: z.coerce.number().int().min(1).max(PLATFORM_ATTEMPTS.deliveries).default(12),
  deliveryTimeoutMs: z.coerce.number().int().min(100).max(300_000).default(30_000),
  jobResultTtlSeconds: z.coerce.number().int().min(60).default(86_400),
  jobDeadlineSeconds: z.coerce.number().int().min(1).max(86_400).default(3_600),
  eventBridgeEndpoint: z.url({ protocol: /^https?$/ }).optional(),
  eventBusName: BusSchema.optional(),
});

/** The binding behind each of {@link ScalarsSchema}'s fields, so an error names what to fix. */
const BINDING_OF: Record<keyof z.input<typeof ScalarsSchema>, keyof Bindings> = {
  toleranceSeconds: 'WEBHOOK_TOLERANCE_SECONDS',
  retryBaseSeconds: 'QUEUE_RETRY_BASE_SECONDS',
  deliveryMaxAttempts: 'DELIVERY_MAX_ATTEMPTS',
  deliveryTimeoutMs: 'DELIVERY_TIMEOUT_MS',
  jobResultTtlSeconds: 'JOB_RESULT_TTL_SECONDS',
  jobDeadlineSeconds: 'JOB_DEADLINE_SECONDS',
  eventBridgeEndpoint: 'EVENTBRIDGE_ENDPOINT',
  eventBusName: 'EVENT_BUS_NAME',
};

// One parse per bindings object, as getConfig does.
const parsed = new WeakMap<Bindings, AsyncSettings>();

function secretsOf(env: Bindings, names: readonly string[], source: string): string[] {
  const values = env as unknown as Record<string, unknown>;
  const out: string[] = [];
  for (const name of names) {
    const raw = values[name];
    if (typeof raw !== 'string' || raw.trim() === '')
      throw new EdgeConfigError(`invalid edge configuration: WEBHOOK_SOURCES.${source}: secret binding ${name} is not set`);
    out.push(
      ...raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
  }
  return out;
}

/** An issue of {@link ScalarsSchema} under the binding's name (`JOB_DEADLINE_SECONDS: …`). */
const named = (issue: string) =>
  issue.replace(/^(\w+):/, (all, field: string) => (field in BINDING_OF ? `${BINDING_OF[field as keyof typeof BINDING_OF]}:` : all));

/** Parses (once) the async settings of these bindings; throws EdgeConfigError naming the bad setting. */
export function getAsyncSettings(env: Bindings): AsyncSettings {
  const cached = parsed.get(env);
  if (cached) return cached;
  const sources = jsonString.pipe(SourcesSchema).safeParse(env.WEBHOOK_SOURCES || '{}');
  const scalars = ScalarsSchema.safeParse(Object.fromEntries(Object.entries(BINDING_OF).map(([field, binding]) => [field, env[binding] || undefined])));
  if (!sources.success || !scalars.success) {
    const issues = [
      ...(sources.error ? describeIssues(sources.error, 'WEBHOOK_SOURCES.') : []),
      ...(scalars.error ? describeIssues(scalars.error).map(named) : []),
    ];
    throw new EdgeConfigError(`invalid edge configuration: ${issues.join('; ')}`);
  }
  const map = new Map<string, WebhookSource>();
  for (const [name, s] of Object.entries(sources.data)) {
    map.set(name, {
      name,
      scheme: s.scheme,
      header: s.header,
      secrets: secretsOf(env, s.secrets, name),
      tenant: s.tenant,
      actions: s.actions,
      forwardUrl: s.forwardUrl,
    });
  }
  // Webhook events read the store too (a job action's tenant and job record), like jobs.
  const budgets = [
    {
      setting: 'QUEUE_RETRY_BASE_SECONDS',
      attempts: storeOutageMaxAttempts(MAX_ATTEMPTS, scalars.data.retryBaseSeconds),
      platform: PLATFORM_ATTEMPTS.webhooks,
      queue: 'webhooks',
    },
    {
      setting: 'QUEUE_RETRY_BASE_SECONDS',
      attempts: storeOutageMaxAttempts(MAX_ATTEMPTS, scalars.data.retryBaseSeconds),
      platform: PLATFORM_ATTEMPTS.jobs,
      queue: 'jobs',
    },
    {
      setting: 'DELIVERY_MAX_ATTEMPTS',
      attempts: storeOutageMaxAttempts(scalars.data.deliveryMaxAttempts, scalars.data.retryBaseSeconds),
      platform: PLATFORM_ATTEMPTS.deliveries,
      queue: 'deliveries',
    },
  ];
  const over = budgets.find((b) => b.attempts > b.platform);
  if (over)
    throw new EdgeConfigError(
      `invalid edge configuration: ${over.setting}: the ${over.queue} consumer would need ${over.attempts} attempts (its work plus ${STORE_OUTAGE_RETRY_SECONDS} s of store-outage retries); the queue allows ${over.platform}`,
    );
  const { eventBridgeEndpoint, eventBusName: busName, ...rest } = scalars.data;
  const settings: AsyncSettings = {
    sources: map,
    ...rest,
    eventBridge: { endpoint: eventBridgeEndpoint, busName: busName ?? eventBusName(env.ENVIRONMENT || 'local') },
    allowLoopbackCallbacks: env.CALLBACK_ALLOW_LOOPBACK === 'true',
  };
  parsed.set(env, settings);
  return settings;
}
