/**
 * The local EventBridge stand-in: a small node:http server that accepts `PutEvents` over the real
 * AWS JSON 1.1 protocol (`POST /`, `X-Amz-Target: AWSEvents.PutEvents`, `Content-Type:
 * application/x-amz-json-1.1`), verifies SigV4 for service `events` with the local credentials
 * (the Lambda host's verifier), validates the entries as EventBridge does (put-events.ts) and keeps
 * the accepted events in memory, so tests and `npm start` can see what reached "the bus".
 *
 * Admin routes (bearer token): `GET /admin/events?source=&detail-type=&bus=` the received events
 * as rule targets see them · `GET /admin/stats` counters · `GET|PUT /admin/config` the fault knobs
 * `{fault: null | "unavailable" | "throttled" | "failed-entries", delayMs}` to rehearse an outage:
 * `unavailable` answers 503 ServiceUnavailable, `throttled` 400 ThrottlingException, and
 * `failed-entries` 200 with every entry failed (InternalFailure), as a partial outage does.
 */
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { collectHeaders, splitTarget } from '../lambda-host/event';
import { sha256Hex, verifySigV4 } from '../lambda-host/sigv4';
import type { LocalCredentials } from '../lambda-host/types';
import { BodyTooLargeError, listen, readBody } from '../lib/net';
import { acceptPutEvents, PutEventsRequestError, PUT_EVENTS_LIMITS, type BusEvent, type ResultEntry } from './put-events';

/** The protocol's media type and the operation's target header value. */
const JSON_1_1 = 'application/x-amz-json-1.1';
const PUT_EVENTS_TARGET = 'AWSEvents.PutEvents';
/** Events kept for `GET /admin/events`; older ones are dropped first. */
const MAX_KEPT_EVENTS = 10_000;
/** Bodies past this are refused before parsing (the API's own limit is 256 KB of entries). */
const MAX_BODY_BYTES = 1024 * 1024;
/** Upper bound of the `delayMs` knob. */
const MAX_DELAY_MS = 120_000;

export const FAULTS = ['unavailable', 'throttled', 'failed-entries'] as const;
export type Fault = (typeof FAULTS)[number];

/** The fault knobs. */
export interface EventBridgeFaults {
  readonly fault: Fault | null;
  /** Delay before every PutEvents answer, ms. */
  readonly delayMs: number;
}

export interface EventBridgeStandInOptions {
  /** 0: a free port. */
  readonly port: number;
  readonly host?: string;
  /** SigV4 scope the callers sign with. */
  readonly region: string;
  /** Accepted signers (the edge's local credentials). */
  readonly credentials: readonly LocalCredentials[];
  /** Bearer token of the admin routes. */
  readonly adminToken: string;
  /** Buses besides `default`. */
  readonly buses?: readonly string[];
  /** Account id in events and bus ARNs. @default 000000000000 */
  readonly account?: string;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
}

/** Counters of what the stand-in received. */
export interface EventBridgeStats {
  /** PutEvents calls answered 200. */
  putRequests: number;
  /** Calls refused whole: signature, protocol, validation, or an injected fault. */
  rejectedRequests: number;
  acceptedEntries: number;
  failedEntries: number;
}

export interface EventBridgeStandIn {
  readonly url: string;
  /** Accepted events, oldest first. */
  events(): readonly BusEvent[];
  stats(): EventBridgeStats;
  close(): Promise<void>;
}

function awsError(res: ServerResponse, status: number, type: string, message: string, requestId: string): void {
  res.writeHead(status, { 'content-type': JSON_1_1, 'x-amzn-requestid': requestId, 'x-amzn-errortype': type }).end(JSON.stringify({ __type: type, message }));
}

function sameToken(given: string | undefined, expected: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(`Bearer ${expected}`);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Parses a `PUT /admin/config` body into a partial update; throws with the bad field named. */
function parseFaultPatch(value: unknown): Partial<EventBridgeFaults> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('the body must be a JSON object');
  const patch: { fault?: Fault | null; delayMs?: number } = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'fault') {
      if (v !== null && !FAULTS.includes(v as Fault)) throw new Error(`fault must be null or one of ${FAULTS.join(', ')}`);
      patch.fault = v as Fault | null;
    } else if (key === 'delayMs') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_DELAY_MS)
        throw new Error(`delayMs must be a whole number from 0 to ${MAX_DELAY_MS}`);
      patch.delayMs = v;
    } else throw new Error(`unknown setting '${key}' (expected fault, delayMs)`);
  }
  return patch;
}

/** Starts the stand-in; resolves once it listens. */
export async function startEventBridgeStandIn(options: EventBridgeStandInOptions): Promise<EventBridgeStandIn> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const scope = { region: options.region, account: options.account ?? '000000000000', buses: options.buses ?? [] };
  const kept: BusEvent[] = [];
  const stats: EventBridgeStats = { putRequests: 0, rejectedRequests: 0, acceptedEntries: 0, failedEntries: 0 };
  let faults: EventBridgeFaults = { fault: null, delayMs: 0 };

  const putEvents = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const reject = (status: number, type: string, message: string) => {
      stats.rejectedRequests++;
      log(`${status} ${type}: ${message}`);
      awsError(res, status, type, message, requestId);
    };
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return reject(413, 'ValidationException', 'Total size of the entries in the request is over the limit.');
      throw err;
    }
    if (faults.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.delayMs));
    if (faults.fault === 'unavailable') return reject(503, 'ServiceUnavailable', 'Service is unavailable.');

    const { rawPath, rawQueryString } = splitTarget(req.url ?? '/');
    const headers = collectHeaders(req.rawHeaders);
    const verdict = verifySigV4(
      { method: req.method ?? 'POST', path: rawPath, query: rawQueryString, headers, bodySha256: sha256Hex(body) },
      { region: options.region, service: 'events', credentials: options.credentials, now: now() },
    );
    if (!verdict.ok) return reject(403, verdict.type, verdict.message);
    if (headers['x-amz-target'] !== PUT_EVENTS_TARGET) {
      return reject(
        400,
        'UnknownOperationException',
        `the stand-in implements only ${PUT_EVENTS_TARGET}, not ${headers['x-amz-target'] ?? '(no X-Amz-Target)'}`,
      );
    }
    if ((headers['content-type'] ?? '').split(';')[0]?.trim() !== JSON_1_1) {
      return reject(400, 'SerializationException', `Content-Type must be ${JSON_1_1}`);
    }
    if (faults.fault === 'throttled') return reject(400, 'ThrottlingException', 'Rate exceeded');

    let entries: readonly ResultEntry[];
    try {
      const accepted = acceptPutEvents(body.toString('utf8'), scope, now());
      if (faults.fault === 'failed-entries') {
        entries = accepted.entries.map(() => ({ ErrorCode: 'InternalFailure', ErrorMessage: 'Internal failure.' }));
      } else {
        entries = accepted.entries;
        kept.push(...accepted.events);
        if (kept.length > MAX_KEPT_EVENTS) kept.splice(0, kept.length - MAX_KEPT_EVENTS);
      }
    } catch (err) {
      if (err instanceof PutEventsRequestError) return reject(400, err.type, err.message);
      throw err;
    }
    const failed = entries.filter((e) => 'ErrorCode' in e).length;
    stats.putRequests++;
    stats.failedEntries += failed;
    stats.acceptedEntries += entries.length - failed;
    res.writeHead(200, { 'content-type': JSON_1_1, 'x-amzn-requestid': requestId }).end(JSON.stringify({ FailedEntryCount: failed, Entries: entries }));
  };

  const admin = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (!sameToken(req.headers.authorization, options.adminToken)) return json(401, { message: 'admin routes need Authorization: Bearer <admin token>' });
    if (req.method === 'GET' && url.pathname === '/admin/events') {
      const source = url.searchParams.get('source');
      const detailType = url.searchParams.get('detail-type');
      const bus = url.searchParams.get('bus');
      return json(
        200,
        kept.filter((e) => (!source || e.source === source) && (!detailType || e['detail-type'] === detailType) && (!bus || e['event-bus-name'] === bus)),
      );
    }
    if (req.method === 'GET' && url.pathname === '/admin/stats') return json(200, { ...stats, kept: kept.length });
    if (url.pathname === '/admin/config' && req.method === 'GET') return json(200, faults);
    if (url.pathname === '/admin/config' && req.method === 'PUT') {
      try {
        faults = { ...faults, ...parseFaultPatch(JSON.parse((await readBody(req, 64 * 1024)).toString('utf8') || '{}')) };
      } catch (err) {
        return json(400, { message: err instanceof Error ? err.message : String(err) });
      }
      log(`faults now ${JSON.stringify(faults)}`);
      return json(200, faults);
    }
    json(404, { message: `no admin route ${req.method} ${url.pathname}` });
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    void (async () => {
      if (req.method === 'POST' && url.pathname === '/') return putEvents(req, res);
      if (url.pathname.startsWith('/admin/')) return admin(req, res, url);
      awsError(res, 404, 'UnknownOperationException', `no route for ${req.method} ${url.pathname}`, randomUUID());
    })().catch((err: unknown) => {
      log(`500 ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) awsError(res, 500, 'InternalException', 'internal error', randomUUID());
      else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port, host);
  log(`listening; buses default${scope.buses.map((b) => `, ${b}`).join('')}; limits ${JSON.stringify(PUT_EVENTS_LIMITS)}`);
  return {
    url: `http://${host}:${port}`,
    events: () => [...kept],
    stats: () => ({ ...stats }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
