/**
 * OTLP/HTTP JSON for traces (`POST /v1/traces`, `application/json`), the subset the gateway writes
 * and reads: the edge encodes its spans with {@link encodeOtlpTraces} (the Worker runs no
 * OpenTelemetry SDK), and the local metrics sink decodes what the edge and the adapters' SDK
 * exporter send with {@link OtlpTracesRequestSchema}. Ids are hex, times nanoseconds since the
 * epoch as decimal strings, as the OTLP JSON mapping asks.
 */
import * as z from 'zod';

/** A span attribute value (arrays of strings for `gen_ai.response.finish_reasons`). */
export type SpanAttributeValue = string | number | boolean | readonly string[];

/** OTLP span kinds used here. */
export const SPAN_KIND = { internal: 1, server: 2, client: 3 } as const;

/** One finished span, as a hop recorded it. */
export interface SpanRecord {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string | undefined;
  readonly name: string;
  readonly kind: (typeof SPAN_KIND)[keyof typeof SPAN_KIND];
  /** Epoch ms (fractions kept). */
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Readonly<Record<string, SpanAttributeValue | undefined>>;
  /** `error` sets the OTLP status code ERROR with this message. */
  readonly error?: string | undefined;
}

/** Who emitted the spans: `service.name` and `deployment.environment.name` of the resource. */
export interface SpanResource {
  readonly serviceName: string;
  readonly environment: string;
}

const nanos = (ms: number): string => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

function anyValue(v: SpanAttributeValue): Record<string, unknown> {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { arrayValue: { values: v.map((s) => ({ stringValue: s })) } };
}

function attributes(attrs: Readonly<Record<string, SpanAttributeValue | undefined>>) {
  return Object.entries(attrs)
    .filter((e): e is [string, SpanAttributeValue] => e[1] !== undefined)
    .map(([key, value]) => ({ key, value: anyValue(value) }));
}

/** The body of one `POST /v1/traces` carrying `spans` of one resource and scope. */
export function encodeOtlpTraces(resource: SpanResource, scope: string, spans: readonly SpanRecord[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: attributes({ 'service.name': resource.serviceName, 'deployment.environment.name': resource.environment }) },
        scopeSpans: [
          {
            scope: { name: scope },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: s.kind,
              startTimeUnixNano: nanos(s.startMs),
              endTimeUnixNano: nanos(Math.max(s.startMs, s.endMs)),
              attributes: attributes(s.attributes),
              status: s.error ? { code: 2, message: s.error } : { code: 0 },
            })),
          },
        ],
      },
    ],
  });
}

const Nanos = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]).transform((v) => BigInt(v));

const AnyValueSchema: z.ZodType<unknown> = z.lazy(() =>
  z
    .object({
      stringValue: z.string().optional(),
      boolValue: z.boolean().optional(),
      intValue: z.union([z.string(), z.number()]).optional(),
      doubleValue: z.number().optional(),
      arrayValue: z.object({ values: z.array(AnyValueSchema).default([]) }).optional(),
    })
    .transform((v) => {
      if (v.stringValue !== undefined) return v.stringValue;
      if (v.boolValue !== undefined) return v.boolValue;
      if (v.intValue !== undefined) return Number(v.intValue);
      if (v.doubleValue !== undefined) return v.doubleValue;
      if (v.arrayValue) return v.arrayValue.values;
      return null;
    }),
);

const AttributesSchema = z
  .array(z.object({ key: z.string(), value: AnyValueSchema.optional() }))
  .default([])
  .transform((list) => Object.fromEntries(list.map((a) => [a.key, a.value ?? null])));

// The OTLP JSON mapping says hex; some encoders send base64 (protobuf-JSON's default for bytes).
const Id = (hexLength: number) =>
  z.string().transform((v, ctx) => {
    if (new RegExp(`^[0-9a-fA-F]{${hexLength}}$`).test(v)) return v.toLowerCase();
    const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(v) ? atob(v) : '';
    if (bytes.length === hexLength / 2) return [...bytes].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
    ctx.addIssue({ code: 'custom', message: `expected ${hexLength} hex digits` });
    return z.NEVER;
  });

const SpanSchema = z.object({
  traceId: Id(32),
  spanId: Id(16),
  parentSpanId: z
    .string()
    .optional()
    .transform((v) => v || undefined)
    .pipe(Id(16).optional()),
  name: z.string().max(1024),
  kind: z.number().int().min(0).max(5).default(0),
  startTimeUnixNano: Nanos,
  endTimeUnixNano: Nanos,
  attributes: AttributesSchema,
  status: z.object({ code: z.number().int().default(0), message: z.string().optional() }).optional(),
});

/** A decoded `ExportTraceServiceRequest` (JSON). */
export const OtlpTracesRequestSchema = z.object({
  resourceSpans: z
    .array(
      z.object({
        resource: z.object({ attributes: AttributesSchema }).optional(),
        scopeSpans: z.array(z.object({ scope: z.object({ name: z.string().default('') }).optional(), spans: z.array(SpanSchema).default([]) })).default([]),
      }),
    )
    .default([]),
});
