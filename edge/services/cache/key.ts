/**
 * Which requests the response cache may answer or store, for how long, and under which key.
 *
 * Key (SPEC §6): SHA-256 of canonical JSON `{tenant, model, prompt or messages (trimmed, with their
 * tool calls), params (keys sorted, floats rounded), tools, tool choice, response format, logprobs, n}`; `tenant` is `*` for a model configured as shareable. The key
 * does not include the surface or `stream`: a sync hit may be served from a stream's answer and
 * vice versa, since the cached content (text, usage, finish reason) is the same.
 *
 * Eligibility: deterministic requests (temperature 0 or a fixed seed) or a client opt-in with
 * `Cache-Control: max-age=N`. `no-cache` skips the lookup (the fresh answer is still stored),
 * `no-store` never stores; `max-age` sets the TTL, capped by config.
 */
import { sha256Hex } from '../../../shared/crypto/hash';
import type { BackendInferRequestInput } from '../../../shared/contracts/backend';

export interface CacheSettings {
  readonly defaultTtlS: number;
  readonly maxTtlS: number;
  readonly shareableModels: readonly string[];
}

/** What the cache does for one request. */
export interface CachePolicy {
  /** The request may be cached at all (else `X-Cache: BYPASS`). */
  readonly eligible: boolean;
  readonly lookup: boolean;
  readonly store: boolean;
  readonly ttlS: number;
}

/** Parses the request's Cache-Control against the generation params. */
export function cachePolicy(cacheControl: string | undefined, params: BackendInferRequestInput['params'], settings: CacheSettings): CachePolicy {
  const directives = new Map<string, string | undefined>();
  for (const part of (cacheControl ?? '').split(',')) {
    const [name, value] = part.trim().toLowerCase().split('=', 2);
    if (name) directives.set(name, value?.replace(/^"|"$/g, ''));
  }
  const maxAge = Number.parseInt(directives.get('max-age') ?? '', 10);
  const optIn = Number.isFinite(maxAge) && maxAge > 0;
  const deterministic = params?.temperature === 0 || params?.seed !== undefined;
  const eligible = deterministic || optIn;
  return {
    eligible,
    lookup: eligible && !directives.has('no-cache'),
    store: eligible && !directives.has('no-store'),
    ttlS: Math.min(optIn ? maxAge : settings.defaultTtlS, settings.maxTtlS),
  };
}

const round = (n: number) => Math.round(n * 10_000) / 10_000;

/** Canonical JSON: object keys sorted, numbers that are not integers rounded to 4 decimals. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isInteger(value)) return JSON.stringify(round(value));
  return JSON.stringify(value);
}

/** The cache key (hex SHA-256) of a planned backend payload. */
export async function cacheKey(tenantId: string, payload: BackendInferRequestInput, settings: CacheSettings): Promise<string> {
  const tenant = settings.shareableModels.includes(payload.model) ? '*' : tenantId;
  if ('prompt' in payload) {
    const { logprobs, top_logprobs, n } = payload;
    return sha256Hex(
      canonicalJson({ v: 1, tenant, model: payload.model, prompt: payload.prompt.trim(), params: payload.params ?? {}, logprobs, top_logprobs, n }),
    );
  }
  const { messages, tools, tool_choice, parallel_tool_calls, response_format, logprobs, top_logprobs, n } = payload;
  // Version 1 keys stay valid for text-only chat: the options join the key only when present.
  return sha256Hex(
    canonicalJson({
      v: 1,
      tenant,
      model: payload.model,
      messages: messages.map((m) => ({ ...m, content: m.content.trim() })),
      params: payload.params ?? {},
      tools,
      tool_choice,
      parallel_tool_calls,
      response_format,
      logprobs,
      top_logprobs,
      n,
    }),
  );
}
