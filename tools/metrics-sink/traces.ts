/**
 * The local metrics sink's traces: OTLP/HTTP JSON export requests (`POST /v1/traces`, from the
 * edge's encoder and the adapters' OpenTelemetry SDK exporter) decoded with the shared schema,
 * kept as flat spans in memory (bounded, oldest first out), found by trace id or by the request id
 * the spans carry (`gateway.request_id`), and drawn as one request's timeline.
 */
import { OtlpTracesRequestSchema } from '../../shared/contracts/otlp';
import { SPAN_ATTR } from '../../shared/contracts/trace';

/** One stored span. */
export interface StoredSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string | undefined;
  readonly name: string;
  readonly kind: number;
  /** `service.name` of the resource that sent it. */
  readonly service: string;
  /** Epoch ms (microsecond precision kept as a fraction). */
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly statusMessage?: string | undefined;
}

/** Spans kept: the newest this many, once the store has trimmed (it trims in steps, see TraceStore.add). */
export const MAX_SPANS = 50_000;

/** Raised for a body that is not an OTLP JSON export request; the message says why. */
export class OtlpDecodeError extends Error {
  override readonly name = 'OtlpDecodeError';
}

const toMs = (ns: bigint) => Number(ns / 1000n) / 1000;

/** Decodes one export request into spans. */
export function decodeOtlpTraces(body: string): StoredSpan[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new OtlpDecodeError('body is not JSON (this sink accepts OTLP/HTTP JSON, not protobuf)');
  }
  const parsed = OtlpTracesRequestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OtlpDecodeError(`not an OTLP traces request: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'unexpected shape'}`);
  }
  const spans: StoredSpan[] = [];
  for (const rs of parsed.data.resourceSpans) {
    const service = String(rs.resource?.attributes['service.name'] ?? 'unknown');
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId,
          name: s.name,
          kind: s.kind,
          service,
          startMs: toMs(s.startTimeUnixNano),
          endMs: toMs(s.endTimeUnixNano),
          attributes: s.attributes,
          statusCode: s.status?.code ?? 0,
          statusMessage: s.status?.message,
        });
      }
    }
  }
  return spans;
}

export class TraceStore {
  #spans: StoredSpan[] = [];
  readonly #max: number;

  constructor(max = MAX_SPANS) {
    this.#max = max;
  }

  /**
   * Keeps the newest `max` spans, trimming only once a quarter more has come in: a full store does
   * not copy every span it holds on each export (one copy per max/4 spans instead).
   */
  add(spans: readonly StoredSpan[]): void {
    for (const span of spans) this.#spans.push(span);
    if (this.#spans.length > this.#max + Math.ceil(this.#max / 4)) this.#spans = this.#spans.slice(-this.#max);
  }

  get size(): number {
    return this.#spans.length;
  }

  /** The spans of one trace, by start time. */
  trace(traceId: string): StoredSpan[] {
    return this.#spans.filter((s) => s.traceId === traceId).sort((a, b) => a.startMs - b.startMs);
  }

  /** The traces that have a span about `requestId`, newest last. */
  traceIdsForRequest(requestId: string): string[] {
    const ids = new Set<string>();
    for (const s of this.#spans) if (s.attributes[SPAN_ATTR.requestId] === requestId) ids.add(s.traceId);
    return [...ids];
  }
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Depth of each span under its trace's roots (a span whose parent is not stored is a root). */
function depths(spans: readonly StoredSpan[]): Map<string, number> {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const out = new Map<string, number>();
  const depthOf = (s: StoredSpan, seen = new Set<string>()): number => {
    const known = out.get(s.spanId);
    if (known !== undefined) return known;
    const parent = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
    const d = parent && !seen.has(parent.spanId) ? depthOf(parent, seen.add(s.spanId)) + 1 : 0;
    out.set(s.spanId, d);
    return d;
  };
  for (const s of spans) depthOf(s);
  return out;
}

/** Spans in tree order: each parent followed by its children, by start time. */
function treeOrder(spans: readonly StoredSpan[]): StoredSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, StoredSpan[]>();
  for (const s of spans) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const out: StoredSpan[] = [];
  const visit = (parent: string | undefined) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs)) {
      out.push(s);
      visit(s.spanId);
    }
  };
  visit(undefined);
  return out;
}

const SHOWN_ATTRIBUTES = [
  SPAN_ATTR.genAiRequestModel,
  SPAN_ATTR.genAiInputTokens,
  SPAN_ATTR.genAiOutputTokens,
  SPAN_ATTR.cache,
  SPAN_ATTR.backend,
  SPAN_ATTR.httpStatus,
  SPAN_ATTR.errorCode,
];

/** The timeline page of one request: each trace it belongs to, its spans as bars on one time axis. */
export function renderTimeline(store: TraceStore, requestId: string): string {
  const traces = store.traceIdsForRequest(requestId).map((id) => ({ id, spans: treeOrder(store.trace(id)) }));
  const sections = traces.map(({ id, spans }) => {
    const start = Math.min(...spans.map((s) => s.startMs));
    const end = Math.max(...spans.map((s) => s.endMs));
    const total = Math.max(end - start, 0.001);
    const depth = depths(spans);
    const rows = spans
      .map((s) => {
        const left = ((s.startMs - start) / total) * 100;
        const width = Math.max(((s.endMs - s.startMs) / total) * 100, 0.3);
        const attrs = SHOWN_ATTRIBUTES.filter((k) => s.attributes[k] !== undefined && s.attributes[k] !== null)
          .map((k) => `${escapeHtml(k)}=${escapeHtml(String(s.attributes[k]))}`)
          .join(' · ');
        return `<tr class="span" data-span-id="${s.spanId}" data-parent-id="${s.parentSpanId ?? ''}" data-service="${escapeHtml(s.service)}" data-name="${escapeHtml(s.name)}" data-start-ms="${(s.startMs - start).toFixed(3)}" data-duration-ms="${(s.endMs - s.startMs).toFixed(3)}">
<td class="name" style="padding-left:${(depth.get(s.spanId) ?? 0) * 16 + 4}px">${escapeHtml(s.name)}<br><small>${escapeHtml(s.service)}</small></td>
<td class="bar"><div class="track"><div class="fill${s.statusCode === 2 ? ' error' : ''}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></div></div><small>${(s.endMs - s.startMs).toFixed(1)} ms at +${(s.startMs - start).toFixed(1)} ms${attrs ? ` · ${attrs}` : ''}</small></td></tr>`;
      })
      .join('\n');
    return `<section class="trace" data-trace-id="${id}"><h2>trace ${id}</h2><p>${spans.length} spans over ${total.toFixed(1)} ms</p><table>${rows}</table></section>`;
  });
  const body =
    sections.length > 0
      ? sections.join('\n')
      : `<p class="empty">no spans for request ${escapeHtml(requestId)} (yet): spans arrive after the response ends.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>trace of ${escapeHtml(requestId)} (local)</title>
<style>body{font:13px system-ui,sans-serif;margin:16px}table{width:100%;border-collapse:collapse}td{border-top:1px solid #eee;padding:3px}td.name{width:28%;white-space:nowrap}.track{position:relative;height:12px;background:#f4f4f4}.fill{position:absolute;top:0;height:12px;background:#1f77b4}.fill.error{background:#d62728}small{color:#666}</style>
</head><body><h1>Request ${escapeHtml(requestId)}</h1><form><input name="request_id" value="${escapeHtml(requestId)}" size="48"> <button>show</button></form>${body}</body></html>`;
}
