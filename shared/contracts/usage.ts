/**
 * The usage ledger's contract: one record per request the gateway answered after authentication
 * (refusals included, at cost 0), written by the edge once the answer or stream has ended, and the
 * shapes of the usage reads. Token counts split what the client was given (`prompt_tokens`,
 * `completion_tokens`, which a cache hit repeats) from what a backend spent for this request
 * (`backend_*`, 0 for a hit, a replay or a refusal); `cost_micros` is what the tenant is billed,
 * in millionths of `currency`.
 */
import * as z from 'zod';
import { ULID_PATTERN } from '../ulid';

/** Where an answer came from: a cache tier, a coalesced leader's flight, some inputs cached (embeddings), a miss, or no cache at all. */
export const CACHE_STATUSES = ['L0', 'L1', 'L2', 'COALESCED', 'PARTIAL', 'MISS', 'BYPASS'] as const;
export type CacheStatus = (typeof CACHE_STATUSES)[number];

/** Cache statuses that count as hits in the aggregates. */
export const CACHE_HITS: ReadonlySet<CacheStatus> = new Set(['L0', 'L1', 'L2', 'COALESCED']);

const count = z.number().int().nonnegative();

export const UsageRecordSchema = z
  .object({
    record_id: z.string().regex(ULID_PATTERN),
    request_id: z.string().min(1).max(128),
    tenant_id: z.string().min(1),
    key_id: z.string().min(1),
    model: z.string(),
    route: z.string(),
    backend: z.string(),
    variant: z.string(),
    status: z.number().int().min(100).max(599),
    error_code: z.string().nullable(),
    cache: z.enum(CACHE_STATUSES),
    prompt_tokens: count,
    completion_tokens: count,
    backend_prompt_tokens: count,
    backend_completion_tokens: count,
    n: z.number().int().positive(),
    stream: z.boolean(),
    ttft_ms: z.number().int().nonnegative().nullable(),
    latency_ms: z.number().int().nonnegative(),
    started_at: z.iso.datetime(),
    ended_at: z.iso.datetime(),
    cost_micros: count,
    currency: z.string().regex(/^[A-Z]{3}$/),
    /** The record id of the answer this idempotent replay repeats (a replay is never billed). */
    replay_of: z.string().optional(),
    /** A shadow call: recorded for comparison, never billed. */
    shadow: z.literal(true).optional(),
  })
  .meta({ id: 'UsageRecord' });

export type UsageRecord = z.infer<typeof UsageRecordSchema>;

/** Ways the usage read groups its rows. */
export const USAGE_GROUPS = ['day', 'model', 'key'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

/** One aggregate row: requests, tokens, cache hits and cost of a day, model or key. */
export const UsageRowSchema = z
  .object({
    group: z.string(),
    requests: count,
    prompt_tokens: count,
    completion_tokens: count,
    backend_prompt_tokens: count,
    backend_completion_tokens: count,
    cache_hits: count,
    cost_micros: count,
  })
  .meta({ id: 'UsageRow' });

export type UsageRow = z.infer<typeof UsageRowSchema>;

export const UsageReportSchema = z
  .object({
    tenant_id: z.string(),
    from: z.string(),
    to: z.string(),
    group_by: z.enum(USAGE_GROUPS),
    currency: z.string(),
    rows: z.array(UsageRowSchema),
  })
  .meta({ id: 'UsageReport' });

export type UsageReport = z.infer<typeof UsageReportSchema>;

/** The UTC day (`YYYY-MM-DD`) of an ISO instant or epoch ms. */
export const utcDay = (at: string | number): string => new Date(at).toISOString().slice(0, 10);

/** The UTC month (`YYYY-MM`) of an instant: a spend budget's period. */
export const utcMonth = (at: string | number): string => new Date(at).toISOString().slice(0, 7);

/**
 * A usage query bound: `YYYY-MM-DD` (the whole day, UTC) or an ISO timestamp. `end` turns a day
 * into the end of that day, so `--from 2026-12-01 --to 2026-12-01` is one whole day.
 */
export function parseUsageBound(value: string, end: boolean): number | undefined {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    const start = Date.parse(`${value}T00:00:00.000Z`);
    return Number.isNaN(start) ? undefined : end ? start + 86_400_000 - 1 : start;
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}
