/**
 * W3C Trace Context as it crosses every hop (client → edge → adapter → container): the
 * `traceparent` / `tracestate` headers, parsed and formatted here once (pure, Web APIs only), the
 * SageMaker `CustomAttributes` string that carries them with the request id (SageMaker passes no
 * other header to the container), and the span attribute names both sides write (OpenTelemetry
 * GenAI semantic conventions plus the gateway's own).
 */
import { toHex } from '../crypto/hash';
import { randomBytes } from '../random';

/** Request headers of W3C Trace Context. */
export const TRACEPARENT_HEADER = 'traceparent';
export const TRACESTATE_HEADER = 'tracestate';

/** The header SageMaker hands to the container verbatim as `CustomAttributes`. */
export const CUSTOM_ATTRIBUTES_HEADER = 'x-amzn-sagemaker-custom-attributes';

/** One hop's trace context: the trace, the caller's span (the parent of the next span) and whether it is sampled. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero: the span the next hop's spans are children of. */
  readonly spanId: string;
  readonly sampled: boolean;
  /** Vendor state, passed on unchanged (validated, at most 512 characters). */
  readonly tracestate?: string | undefined;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);
// A list member `key=value`: key per the spec (simple or tenant@system), value printable ASCII without `,` and `=`.
const TRACESTATE_MEMBER = /^[a-z0-9][_0-9a-z\-*/]{0,255}(@[a-z][_0-9a-z\-*/]{0,13})?=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
const MAX_TRACESTATE = 512;
const MAX_TRACESTATE_MEMBERS = 32;

/**
 * Parses a `traceparent` header; undefined when it is absent or invalid (then the receiver starts a
 * new trace, as the spec asks). Version `00` must be exactly 55 characters; a higher version may
 * carry more fields after the fourth, which are ignored; version `ff` is invalid.
 */
export function parseTraceparent(header: string | null | undefined, tracestate?: string | null): TraceContext | undefined {
  if (!header) return undefined;
  const value = header.trim();
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff') return undefined;
  if (version === '00' && (rest !== undefined || value.length !== 55)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  const state = parseTracestate(tracestate);
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1, ...(state ? { tracestate: state } : {}) };
}

/** A `tracestate` header when every list member is valid (empty members dropped), else undefined. */
export function parseTracestate(header: string | null | undefined): string | undefined {
  if (!header || header.length > MAX_TRACESTATE) return undefined;
  const members = header
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  if (members.length === 0 || members.length > MAX_TRACESTATE_MEMBERS) return undefined;
  if (!members.every((m) => TRACESTATE_MEMBER.test(m))) return undefined;
  const keys = members.map((m) => m.slice(0, m.indexOf('=')));
  if (new Set(keys).size !== keys.length) return undefined;
  return members.join(',');
}

/** The `traceparent` header (version 00) of a context. */
export function formatTraceparent(ctx: Pick<TraceContext, 'traceId' | 'spanId' | 'sampled'>): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.sampled ? '01' : '00'}`;
}

/** The trace headers to send to the next hop. */
export function traceHeaders(ctx: TraceContext): Record<string, string> {
  return { [TRACEPARENT_HEADER]: formatTraceparent(ctx), ...(ctx.tracestate ? { [TRACESTATE_HEADER]: ctx.tracestate } : {}) };
}

const randomHex = (bytes: number): string => toHex(randomBytes(bytes));

/** A new random trace id (never all zero). */
export function newTraceId(): string {
  const id = randomHex(16);
  return id === ZERO_TRACE ? newTraceId() : id;
}

/** A new random span id (never all zero). */
export function newSpanId(): string {
  const id = randomHex(8);
  return id === ZERO_SPAN ? newSpanId() : id;
}

/** What the SageMaker adapter sends to the container in `CustomAttributes`. */
export interface CustomAttributes {
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
  readonly requestId?: string | undefined;
}

/** SageMaker's limit on `CustomAttributes` (visible US-ASCII, 1024 characters). */
export const MAX_CUSTOM_ATTRIBUTES = 1024;

/**
 * `CustomAttributes` as `traceparent=…;tracestate=…;request_id=…` (tracestate percent-encoded:
 * its values may hold `;`). Members that would pass SageMaker's 1024-character limit are left out,
 * tracestate first; undefined when nothing is left.
 */
export function formatCustomAttributes(attrs: CustomAttributes): string | undefined {
  const parts = (withState: boolean) =>
    [
      attrs.traceparent ? `traceparent=${attrs.traceparent}` : undefined,
      withState && attrs.tracestate ? `tracestate=${encodeURIComponent(attrs.tracestate)}` : undefined,
      attrs.requestId ? `request_id=${attrs.requestId}` : undefined,
    ]
      .filter((p): p is string => p !== undefined)
      .join(';');
  const value = parts(true).length <= MAX_CUSTOM_ATTRIBUTES ? parts(true) : parts(false);
  return value && value.length <= MAX_CUSTOM_ATTRIBUTES ? value : undefined;
}

/** Reads {@link formatCustomAttributes}' string back (unknown members ignored). */
export function parseCustomAttributes(value: string | null | undefined): CustomAttributes {
  const out: { traceparent?: string; tracestate?: string; requestId?: string } = {};
  for (const part of (value ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (key === 'traceparent') out.traceparent = v;
    else if (key === 'request_id') out.requestId = v;
    else if (key === 'tracestate') {
      try {
        out.tracestate = decodeURIComponent(v);
      } catch {
        // A malformed escape: no tracestate rather than a wrong one.
      }
    }
  }
  return out;
}

/** Span attribute names: OpenTelemetry GenAI semantic conventions, and the gateway's own (`gateway.*`). */
export const SPAN_ATTR = {
  genAiSystem: 'gen_ai.system',
  genAiOperation: 'gen_ai.operation.name',
  genAiRequestModel: 'gen_ai.request.model',
  genAiRequestMaxTokens: 'gen_ai.request.max_tokens',
  genAiRequestTemperature: 'gen_ai.request.temperature',
  genAiResponseFinishReasons: 'gen_ai.response.finish_reasons',
  genAiInputTokens: 'gen_ai.usage.input_tokens',
  genAiOutputTokens: 'gen_ai.usage.output_tokens',
  requestId: 'gateway.request_id',
  tenantId: 'gateway.tenant_id',
  backend: 'gateway.backend',
  cache: 'gateway.cache',
  stream: 'gateway.stream',
  errorCode: 'gateway.error_code',
  httpMethod: 'http.request.method',
  httpRoute: 'http.route',
  httpStatus: 'http.response.status_code',
  serverAddress: 'server.address',
  ttftMs: 'gateway.ttft_ms',
} as const;

/** `gen_ai.system` of the gateway's models: self-hosted, so no vendor name applies. */
export const GEN_AI_SYSTEM = 'self_hosted';
