/**
 * EventBridge `PutEvents` from the edge: the AWS JSON 1.1 protocol over fetch, SigV4-signed
 * (sigv4.ts, service `events`), bounded by a deadline, and answered with a typed outcome rather than
 * a throw. A verified webhook event becomes one entry: `source` from the webhook source,
 * `detail-type` from the event type, and the webhook id in `detail` so that consumers deduplicate
 * (delivery is at least once: a retried call may put an entry EventBridge already took).
 *
 * Failures say whether a retry can help. EventBridge answers 200 even when entries fail, so
 * `FailedEntryCount > 0` is a failure too; its entries are retryable unless their ErrorCode is one
 * the API reference lists as not retryable (MalformedDetail, InvalidArgument, AccessDenied, …).
 */
import * as z from 'zod';
import { webhookEventSource, type WebhookEventDetail } from '../../shared/contracts/events';
import type { WebhookMessage } from '../queues/messages';
import { type SigV4Signer, signerFor } from './sigv4';

/** PutEvents limits: entries per call and bytes of entries per call (and so per entry). */
const PUT_EVENTS_MAX_ENTRIES = 10;
const PUT_EVENTS_MAX_BYTES = 256 * 1024;
/** Default bound of one `putEvents` call (every request it makes). */
const DEFAULT_TIMEOUT_MS = 10_000;

/** Entry-level error codes the PutEvents reference lists as not retryable. */
const PERMANENT_ENTRY_ERRORS = new Set([
  'AccessDeniedException',
  'InvalidAccountIdException',
  'InvalidArgument',
  'MalformedDetail',
  'RedactionFailure',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
]);

/** Where and as whom to put events. */
export interface EventBridgeTarget {
  /** The EventBridge endpoint, or the local stand-in's URL. @default `https://events.<region>.amazonaws.com/` */
  readonly endpoint?: string | undefined;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string | undefined };
  /** Bus of entries that name none (the environment's bus). */
  readonly busName: string;
  /** Bound of the whole call, all requests included. @default 10000 */
  readonly timeoutMs?: number;
}

/** One event to put. */
export interface BusEntry {
  readonly source: string;
  readonly detailType: string;
  /** Sent as the JSON string EventBridge wants. */
  readonly detail: object;
  /** Event time, epoch ms. @default the time EventBridge receives it */
  readonly time?: number;
  /** Bus name or ARN. @default the target's bus */
  readonly busName?: string;
}

/** An entry that did not get onto the bus: its index in the call's input, and why. */
export interface FailedEntry {
  readonly index: number;
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

/** What a `putEvents` call did. */
export type PutEventsOutcome =
  | { readonly ok: true; readonly eventIds: readonly string[] }
  | {
      readonly ok: false;
      /** True when retrying the failed entries can succeed for some of them (an outage, throttling, a timeout). */
      readonly retryable: boolean;
      /** One line for logs and dead letters; never carries credentials. */
      readonly reason: string;
      readonly failed: readonly FailedEntry[];
      /** Per input index: the id EventBridge gave, or undefined for a failed entry. */
      readonly eventIds: readonly (string | undefined)[];
    };

/** Options of one call. */
export interface PutEventsOptions {
  /** Aborts the call (the consumer's own deadline). */
  readonly signal?: AbortSignal;
  /** Transport; default the global fetch. */
  readonly fetch?: typeof fetch;
}

const ResponseSchema = z.object({
  FailedEntryCount: z.number().int().nonnegative().optional(),
  Entries: z.array(z.object({ EventId: z.string().optional(), ErrorCode: z.string().optional(), ErrorMessage: z.string().optional() })),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The body as text; `Response.text()` would make workerd warn about the x-amz-json media type. */
async function bodyText(res: Response): Promise<string> {
  return decoder.decode(await res.arrayBuffer());
}

interface WireEntry {
  Source: string;
  DetailType: string;
  Detail: string;
  EventBusName: string;
  Time?: number;
}

function toWire(entry: BusEntry, busName: string): WireEntry {
  return {
    Source: entry.source,
    DetailType: entry.detailType,
    Detail: JSON.stringify(entry.detail),
    EventBusName: entry.busName ?? busName,
    // The JSON protocol sends timestamps as epoch seconds.
    ...(entry.time !== undefined ? { Time: entry.time / 1000 } : {}),
  };
}

/** An entry's size as EventBridge's quota counts it (Time 14 bytes; Source, DetailType, Detail in UTF-8). */
function wireSize(e: WireEntry): number {
  return (e.Time !== undefined ? 14 : 0) + encoder.encode(e.Source).length + encoder.encode(e.DetailType).length + encoder.encode(e.Detail).length;
}

/** Consecutive runs of at most 10 entries and 256 KB; entries too big to send at all come back apart. */
function batches(entries: readonly WireEntry[]): { batches: number[][]; tooBig: number[] } {
  const out: number[][] = [];
  const tooBig: number[] = [];
  let current: number[] = [];
  let size = 0;
  entries.forEach((e, index) => {
    const bytes = wireSize(e);
    if (bytes > PUT_EVENTS_MAX_BYTES) {
      tooBig.push(index);
      return;
    }
    if (current.length === PUT_EVENTS_MAX_ENTRIES || size + bytes > PUT_EVENTS_MAX_BYTES) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(index);
    size += bytes;
  });
  if (current.length > 0) out.push(current);
  return { batches: out, tooBig };
}

/** Why a request or an entry failed, and whether a retry can help. */
type Failure = Omit<FailedEntry, 'index'>;
type EntryResult = { readonly eventId: string } | Failure;

/** A whole-request failure from its status and AWS error type. */
async function requestFailure(res: Response): Promise<Failure> {
  const text = await bodyText(res).catch(() => '');
  let type = res.headers.get('x-amzn-errortype') ?? '';
  let message = '';
  try {
    const body = JSON.parse(text) as { __type?: unknown; message?: unknown; Message?: unknown };
    if (!type && typeof body.__type === 'string') type = body.__type;
    message = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : '';
  } catch {
    // not JSON: keep the status alone
  }
  const code = type.split(':')[0]?.split('#').at(-1) || `HTTP${res.status}`;
  const retryable = res.status >= 500 || res.status === 429 || code === 'ThrottlingException';
  return { code, message: `PutEvents answered ${res.status} ${code}${message ? `: ${message.slice(0, 200)}` : ''}`, retryable };
}

async function send(
  signer: SigV4Signer,
  endpoint: string,
  wire: readonly WireEntry[],
  signal: AbortSignal,
  doFetch: typeof fetch,
): Promise<{ results: EntryResult[] } | Failure> {
  let res: Response;
  try {
    const body = JSON.stringify({ Entries: wire });
    const headers = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.PutEvents' };
    res = await signer.fetch(endpoint, { method: 'POST', headers, body, signal }, doFetch);
  } catch (err) {
    if (signal.aborted) {
      const timedOut = signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError';
      return { code: timedOut ? 'Timeout' : 'Cancelled', message: timedOut ? 'PutEvents did not answer in time' : 'PutEvents was cancelled', retryable: true };
    }
    return { code: 'Unreachable', message: `PutEvents failed: ${err instanceof Error ? err.message.slice(0, 200) : 'network error'}`, retryable: true };
  }
  if (!res.ok) return requestFailure(res);
  const parsed = ResponseSchema.safeParse(
    await bodyText(res)
      .then((t) => JSON.parse(t) as unknown)
      .catch(() => undefined),
  );
  if (!parsed.success || parsed.data.Entries.length !== wire.length) {
    return { code: 'MalformedResponse', message: 'PutEvents answered 200 without one result entry per event', retryable: true };
  }
  const results = parsed.data.Entries.map((e): EntryResult => {
    if (e.EventId && !e.ErrorCode) return { eventId: e.EventId };
    const code = e.ErrorCode ?? 'UnknownError';
    return { code, message: e.ErrorMessage ?? '', retryable: !PERMANENT_ENTRY_ERRORS.has(code) };
  });
  return { results };
}

/**
 * Puts `entries` on the bus: one call per run of at most 10 entries and 256 KB, all within the
 * target's deadline. Never throws; `ok` only when every entry got an EventId.
 */
export async function putEvents(target: EventBridgeTarget, entries: readonly BusEntry[], options: PutEventsOptions = {}): Promise<PutEventsOutcome> {
  const endpoint = target.endpoint ?? `https://events.${target.region}.amazonaws.com/`;
  const signer = signerFor(target.credentials, target.region, 'events');
  const timeout = AbortSignal.timeout(target.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const wire = entries.map((e) => toWire(e, target.busName));
  const plan = batches(wire);
  const eventIds: (string | undefined)[] = wire.map(() => undefined);
  const failed: FailedEntry[] = plan.tooBig.map((index) => ({
    index,
    code: 'EntryTooLarge',
    message: `the entry is ${wireSize(wire[index]!)} bytes, over PutEvents' ${PUT_EVENTS_MAX_BYTES}`,
    retryable: false,
  }));
  const wholeRequest = new Set<number>();
  for (const batch of plan.batches) {
    const result = await send(
      signer,
      endpoint,
      batch.map((i) => wire[i]!),
      signal,
      options.fetch ?? fetch,
    );
    if ('code' in result) {
      for (const index of batch) {
        wholeRequest.add(index);
        failed.push({ index, code: result.code, message: result.message, retryable: result.retryable });
      }
      continue;
    }
    batch.forEach((index, k) => {
      const r = result.results[k]!;
      if ('eventId' in r) eventIds[index] = r.eventId;
      else failed.push({ index, ...r });
    });
  }
  if (failed.length === 0) return { ok: true, eventIds: eventIds as string[] };
  failed.sort((a, b) => a.index - b.index);
  const first = failed[0]!;
  // One whole-request cause for every entry (an outage, a timeout) is said as it is.
  const reason =
    wholeRequest.size === wire.length && new Set(failed.map((f) => f.message)).size === 1
      ? first.message
      : `${failed.length} of ${wire.length} entries failed (first: ${first.code}${first.message ? ` ${first.message}` : ''})`;
  // Retrying helps when any failed entry can still get through; the others dead-letter with the rest.
  return { ok: false, retryable: failed.some((f) => f.retryable), reason, failed, eventIds };
}

/** The bus entry of a verified webhook event: source from its webhook source, detail-type from its type. */
export function webhookBusEntry(message: WebhookMessage, busName?: string): BusEntry {
  const detail: WebhookEventDetail = {
    webhook_id: message.deliveryId,
    source: message.source,
    event: { id: message.event.id, type: message.event.type, payload: message.event.payload },
    received_at: Math.floor(message.receivedAt / 1000),
    request_id: message.requestId,
  };
  return {
    source: webhookEventSource(message.source),
    detailType: message.event.type,
    detail,
    time: message.receivedAt,
    ...(busName ? { busName } : {}),
  };
}
