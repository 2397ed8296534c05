/**
 * What the local EventBridge stand-in accepts: a `PutEvents` request body in the AWS JSON 1.1
 * protocol, checked the way EventBridge checks it. A request that breaks the API's own limits (no
 * entries, more than 10, over 256 KB in all) is refused whole with a ValidationException; an entry
 * that is wrong on its own (a missing field, a Detail that is not a JSON object, an `aws.` source,
 * an unknown bus) fails alone with the entry-level ErrorCode AWS uses, and the others are accepted.
 */
import { randomUUID } from 'node:crypto';

/** PutEvents limits EventBridge enforces. */
export const PUT_EVENTS_LIMITS = { maxEntries: 10, maxRequestBytes: 256 * 1024, maxDetailTypeChars: 128, maxSourceChars: 256 } as const;

/** A request-level refusal: the AWS error type, its HTTP status and message. */
export class PutEventsRequestError extends Error {
  override readonly name = 'PutEventsRequestError';
  constructor(
    readonly type: 'ValidationException' | 'SerializationException',
    message: string,
  ) {
    super(message);
  }
}

/** An event as a rule target receives it (the EventBridge event envelope). */
export interface BusEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  /** ISO 8601, second precision, as EventBridge writes it. */
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
  /** The bus it was put on (not part of AWS's envelope; the stand-in keeps it to list per bus). */
  readonly 'event-bus-name': string;
}

type EntryError = { readonly ErrorCode: string; readonly ErrorMessage: string };

/** One result entry, as PutEvents answers it. */
export type ResultEntry = { readonly EventId: string } | EntryError;

/** Where the stand-in's buses live. */
export interface BusScope {
  readonly region: string;
  readonly account: string;
  /** Bus names that exist; `default` always does. */
  readonly buses: readonly string[];
}

/** The answer's entries (in request order) and the events that were accepted. */
export interface AcceptResult {
  readonly entries: readonly ResultEntry[];
  readonly events: readonly BusEvent[];
}

const encoder = new TextEncoder();
const bytes = (s: unknown) => (typeof s === 'string' ? encoder.encode(s).length : 0);

/** An entry's size as EventBridge's quota counts it: Time 14 bytes, then Source, DetailType, Detail and Resources in UTF-8. */
function entrySize(entry: Record<string, unknown>): number {
  const resources = Array.isArray(entry.Resources) ? entry.Resources.reduce((n: number, r: unknown) => n + bytes(r), 0) : 0;
  return (entry.Time !== undefined ? 14 : 0) + bytes(entry.Source) + bytes(entry.DetailType) + bytes(entry.Detail) + resources;
}

function entryError(code: string, message: string): EntryError {
  return { ErrorCode: code, ErrorMessage: message };
}

function busName(value: unknown, scope: BusScope): string | EntryError {
  if (value === undefined || value === null || value === '') return 'default';
  if (typeof value !== 'string') return entryError('InvalidArgument', 'Parameter EventBusName is not valid.');
  const arn = /^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus\/([/.\-_A-Za-z0-9]{1,256})$/.exec(value);
  const name = arn ? arn[3]! : value;
  if (arn && (arn[1] !== scope.region || arn[2] !== scope.account)) return entryError('ResourceNotFoundException', `Event bus ${value} does not exist.`);
  if (!/^[/.\-_A-Za-z0-9]{1,256}$/.test(name)) return entryError('InvalidArgument', 'Parameter EventBusName is not valid.');
  if (name !== 'default' && !scope.buses.includes(name)) return entryError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
  return name;
}

function required(entry: Record<string, unknown>, field: 'Source' | 'DetailType' | 'Detail'): EntryError | undefined {
  const value = entry[field];
  if (typeof value !== 'string' || value === '') {
    return entryError('InvalidArgument', `Parameter ${field} is not valid. Reason: ${field} is a required argument.`);
  }
  return undefined;
}

/** Checks one entry; the event it becomes, or the entry-level error. */
function acceptEntry(raw: unknown, scope: BusScope, now: number): BusEvent | EntryError {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return entryError('InvalidArgument', 'An entry must be a structure.');
  const entry = raw as Record<string, unknown>;
  const missing = required(entry, 'Source') ?? required(entry, 'DetailType') ?? required(entry, 'Detail');
  if (missing) return missing;
  const source = entry.Source as string;
  const detailType = entry.DetailType as string;
  if (source.length > PUT_EVENTS_LIMITS.maxSourceChars) return entryError('InvalidArgument', 'Parameter Source is not valid. Reason: Source is too long.');
  if (detailType.length > PUT_EVENTS_LIMITS.maxDetailTypeChars)
    return entryError('InvalidArgument', 'Parameter DetailType is not valid. Reason: DetailType is too long.');
  if (source.startsWith('aws.')) return entryError('NotAuthorizedForSourceException', 'Not authorized for the source.');
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail as string);
  } catch {
    return entryError('MalformedDetail', 'Detail is malformed.');
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return entryError('MalformedDetail', 'Detail is malformed.');
  const bus = busName(entry.EventBusName, scope);
  if (typeof bus !== 'string') return bus;
  let time = now;
  if (entry.Time !== undefined) {
    if (typeof entry.Time !== 'number' || !Number.isFinite(entry.Time)) return entryError('InvalidArgument', 'Parameter Time is not valid.');
    time = entry.Time * 1000;
  }
  const resources = entry.Resources ?? [];
  if (!Array.isArray(resources) || resources.some((r) => typeof r !== 'string')) return entryError('InvalidArgument', 'Parameter Resources is not valid.');
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source,
    account: scope.account,
    time: new Date(Math.floor(time / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    region: scope.region,
    resources: resources as string[],
    detail: detail as Record<string, unknown>,
    'event-bus-name': bus,
  };
}

/**
 * Validates a PutEvents body and turns each valid entry into an event with a fresh id. Throws
 * {@link PutEventsRequestError} for a request EventBridge refuses whole.
 */
export function acceptPutEvents(body: string, scope: BusScope, now: number): AcceptResult {
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    throw new PutEventsRequestError('SerializationException', 'The request body is not valid JSON.');
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new PutEventsRequestError('SerializationException', 'The request body must be a JSON object.');
  }
  const raw = (request as Record<string, unknown>).Entries;
  const constraint = (text: string) =>
    new PutEventsRequestError('ValidationException', `1 validation error detected: Value at 'entries' failed to satisfy constraint: ${text}`);
  if (raw === undefined || raw === null) throw constraint('Member must not be null');
  if (!Array.isArray(raw)) throw new PutEventsRequestError('SerializationException', 'Entries must be a list.');
  if (raw.length < 1) throw constraint('Member must have length greater than or equal to 1');
  if (raw.length > PUT_EVENTS_LIMITS.maxEntries) throw constraint(`Member must have length less than or equal to ${PUT_EVENTS_LIMITS.maxEntries}`);
  const size = raw.reduce((n: number, e: unknown) => n + (typeof e === 'object' && e !== null ? entrySize(e as Record<string, unknown>) : 0), 0);
  if (size > PUT_EVENTS_LIMITS.maxRequestBytes)
    throw new PutEventsRequestError('ValidationException', 'Total size of the entries in the request is over the limit.');

  const entries: ResultEntry[] = [];
  const events: BusEvent[] = [];
  for (const item of raw) {
    const result = acceptEntry(item, scope, now);
    if ('ErrorCode' in result) entries.push(result);
    else {
      events.push(result);
      entries.push({ EventId: result.id });
    }
  }
  return { entries, events };
}
