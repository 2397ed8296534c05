/**
 * Stored responses (`store: true`, the default): each answer with the conversation that produced
 * it, in Redis under a tenant-scoped key (`gw:resp:<tenant>:<id>`), so another tenant's id is simply
 * not there (404, indistinguishable from unknown). Expires after `RESPONSES_STORE_TTL_S` (default 30
 * days; 0 disables storing). Every call is bounded by the store timeout; a store that fails or is
 * too slow is a 503 UPSTREAM_ERROR with Retry-After, never a 500.
 */
import type { Context } from 'hono';
import * as z from 'zod';
import type { ResponseObject } from '../../../shared/contracts/responses';
import { describeIssues } from '../../../shared/settings';
import { type AppEnv, EdgeConfigError, type Bindings } from '../../env';
import { ApiError } from '../../errors';
import { withDeadline } from '../deadline';
import type { Store } from '../store';

/** Default lifetime of a stored response: 30 days. */
const DEFAULT_TTL_S = 30 * 86_400;
const RETRY_AFTER_S = 5;

const SettingsSchema = z.object({
  ttlS: z.coerce
    .number()
    .int()
    .min(0)
    .max(366 * 86_400)
    .default(DEFAULT_TTL_S),
});

// One parse per bindings object, as getConfig does.
const parsed = new WeakMap<Bindings, { readonly ttlS: number }>();

/** The stored-response settings of these bindings (`RESPONSES_STORE_TTL_S`), parsed once. */
export function responsesSettings(env: Bindings): { readonly ttlS: number } {
  const cached = parsed.get(env);
  if (cached) return cached;
  const result = SettingsSchema.safeParse({ ttlS: env.RESPONSES_STORE_TTL_S || undefined });
  if (!result.success) throw new EdgeConfigError(`invalid edge configuration: RESPONSES_STORE_TTL_S: ${describeIssues(result.error).join('; ')}`);
  parsed.set(env, result.data);
  return result.data;
}

/**
 * A stored answer: the response object as the client got it (a natively served model's may hold
 * any output items), and the conversation's input items it answered (`instructions` excluded, as
 * OpenAI does).
 */
const RecordSchema = z.object({
  v: z.literal(1),
  response: z.looseObject({ id: z.string(), object: z.literal('response'), output: z.array(z.looseObject({ type: z.string() })) }),
  input: z.array(z.unknown()),
});

/** A stored response and the input it answered. */
export type StoredResponse = z.infer<typeof RecordSchema>;

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

const ID_PATTERN = /^resp_[0-9a-f]{32}$/;
const keyOf = (tenantId: string, id: string) => `gw:resp:${tenantId}:${id}`;

/** The items a follow-up with `previous_response_id` continues: the stored input, then the answer's output. */
export function continuedItems(stored: StoredResponse): unknown[] {
  return [...stored.input, ...stored.response.output];
}

/** One tenant's stored responses, each call bounded by `timeoutMs`. */
export interface ResponseStore {
  save(response: ResponseObject | StoredResponse['response'], input: readonly unknown[]): Promise<void>;
  /** The stored response, or undefined when this tenant has none with that id. */
  load(id: string): Promise<StoredResponse | undefined>;
  /** True when a stored response was deleted. */
  remove(id: string): Promise<boolean>;
}

async function bounded<T>(call: () => Promise<T>, ms: number): Promise<T> {
  try {
    return await withDeadline(call(), ms, 'the response store');
  } catch (err) {
    throw new ApiError('UPSTREAM_ERROR', 'the response store is unavailable; retry shortly', {
      status: 503,
      headers: { 'Retry-After': String(RETRY_AFTER_S) },
      details: { retry_after: RETRY_AFTER_S },
      cause: err,
    });
  }
}

/** The stored responses of `tenantId` in `store`, kept for `ttlS` seconds. */
export function responseStore(store: Store, tenantId: string, options: { readonly ttlS: number; readonly timeoutMs: number }): ResponseStore {
  return {
    async save(response, input) {
      const record: StoredResponse = { v: 1, response, input: [...input] };
      await bounded(() => store.set(keyOf(tenantId, response.id), JSON.stringify(record), { ex: options.ttlS }), options.timeoutMs);
    },
    async load(id) {
      // An id this gateway cannot have issued costs no store round trip.
      if (!ID_PATTERN.test(id)) return undefined;
      const raw = await bounded(() => store.get<unknown>(keyOf(tenantId, id)), options.timeoutMs);
      if (raw === null) return undefined;
      return RecordSchema.safeParse(typeof raw === 'string' ? parseJson(raw) : raw).data;
    },
    async remove(id) {
      if (!ID_PATTERN.test(id)) return false;
      return (await bounded(() => store.del(keyOf(tenantId, id)), options.timeoutMs)) > 0;
    },
  };
}

/** The authenticated tenant's stored responses, with this request's settings and store timeout. */
export function tenantResponses(c: Context<AppEnv>): ResponseStore {
  return responseStore(c.get('store'), c.get('auth').tenantId, { ttlS: responsesSettings(c.env).ttlS, timeoutMs: c.get('config').limits.storeTimeoutMs });
}
