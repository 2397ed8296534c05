/**
 * The local metrics sink: a small node:http server standing in for CloudWatch in the local stack.
 * It accepts the edge's PutMetricData calls (Query protocol, SigV4 for service `monitoring`
 * verified with the Lambda host's verifier, the API's limits enforced), ingests the adapters' EMF
 * lines handed over by the stack, keeps the datapoints in memory, and serves the dashboard page.
 *
 * It is also the local trace collector: OTLP/HTTP JSON from the edge and the adapters (traces.ts).
 * With a usage reader, the dashboard also shows the ledger's top tenants by tokens and cost.
 *
 * Routes: `POST /` PutMetricData · `GET /` the dashboard (`?env=local&minutes=30&refresh=10`) ·
 * `GET /api/datapoints?namespace=&metric=` the stored datapoints · `GET /api/stats` counters ·
 * `POST /v1/traces` OTLP/HTTP JSON · `GET /api/traces?request_id=|trace_id=` the stored spans ·
 * `GET /traces?request_id=` one request's spans on a timeline.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { collectHeaders, splitTarget } from '../lambda-host/event';
import { sha256Hex, verifySigV4 } from '../lambda-host/sigv4';
import type { LocalCredentials } from '../lambda-host/types';
import { LIMITS, parseEmfLine, parsePutMetricData, PutMetricDataError } from './ingest';
import { renderDashboard } from './page';
import { MetricStore } from './store';
import { decodeOtlpTraces, OtlpDecodeError, renderTimeline, TraceStore } from './traces';
import { renderUsage, type TenantUsage } from './usage';
import { listen } from '../lib/net';

export interface MetricsSinkOptions {
  /** 0: a free port. */
  readonly port: number;
  readonly host?: string;
  /** SigV4 scope the edge signs with. */
  readonly region: string;
  /** Accepted signers; empty: unsigned requests are accepted (only for local experiments). */
  readonly credentials: readonly LocalCredentials[];
  /** The dashboard's default `Environment`. */
  readonly environment?: string;
  readonly now?: () => number;
  readonly log?: (line: string) => void;
  /** Reads the usage ledger's per-tenant aggregates of a UTC day, for the dashboard's usage section; none: no section. */
  readonly usage?: (day: string) => Promise<readonly TenantUsage[]>;
}

/** Counters of what the sink received. */
export interface SinkStats {
  putRequests: number;
  putRejected: number;
  putDatums: number;
  emfLines: number;
  emfDatapoints: number;
  traceRequests: number;
  traceRejected: number;
  spans: number;
  /** TCP connections accepted: a client that reuses its connections opens few. */
  connections: number;
}

export interface MetricsSink {
  readonly url: string;
  readonly store: MetricStore;
  readonly traces: TraceStore;
  stats(): SinkStats;
  /** Ingests one output line when it is an EMF document; true when it was. */
  ingestLine(line: string): boolean;
  close(): Promise<void>;
}

/** Largest OTLP export request accepted (bytes). */
const MAX_TRACE_BODY = 4 * 1024 * 1024;

const XMLNS = 'http://monitoring.amazonaws.com/doc/2010-08-01/';

function xmlError(res: ServerResponse, status: number, type: 'Sender' | 'Receiver', code: string, message: string, requestId: string) {
  const escaped = message.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  res
    .writeHead(status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId })
    .end(
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${type}</Type><Code>${code}</Code><Message>${escaped}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    );
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Starts the sink; resolves once it listens. */
export async function startMetricsSink(options: MetricsSinkOptions): Promise<MetricsSink> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const store = new MetricStore();
  const stats: SinkStats = {
    putRequests: 0,
    putRejected: 0,
    putDatums: 0,
    emfLines: 0,
    emfDatapoints: 0,
    traceRequests: 0,
    traceRejected: 0,
    spans: 0,
    connections: 0,
  };
  const traces = new TraceStore();

  const exportTraces = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req, MAX_TRACE_BODY);
    const reject = (status: number, message: string) => {
      stats.traceRejected++;
      log(`${status} traces: ${message}`);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 3, message }));
    };
    if (!body) return reject(413, `payload over ${MAX_TRACE_BODY} bytes`);
    const type = req.headers['content-type']?.split(';', 1)[0]?.trim().toLowerCase();
    if (type !== 'application/json') return reject(415, `content-type ${type ?? '(none)'}: this sink accepts OTLP/HTTP JSON (application/json)`);
    try {
      const spans = decodeOtlpTraces(body.toString('utf8'));
      traces.add(spans);
      stats.traceRequests++;
      stats.spans += spans.length;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    } catch (err) {
      if (!(err instanceof OtlpDecodeError)) throw err;
      reject(400, err.message);
    }
  };

  const putMetricData = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    // Read a little past the limit so an oversized payload is refused as such, not cut.
    const body = await readBody(req, LIMITS.maxPayloadBytes + 1);
    if (!body) {
      stats.putRejected++;
      return xmlError(res, 413, 'Sender', 'RequestEntityTooLarge', `payload over ${LIMITS.maxPayloadBytes} bytes`, requestId);
    }
    if (options.credentials.length > 0) {
      const { rawPath, rawQueryString } = splitTarget(req.url ?? '/');
      const verdict = verifySigV4(
        { method: req.method ?? 'POST', path: rawPath, query: rawQueryString, headers: collectHeaders(req.rawHeaders), bodySha256: sha256Hex(body) },
        { region: options.region, service: 'monitoring', credentials: options.credentials, now: now() },
      );
      if (!verdict.ok) {
        stats.putRejected++;
        log(`403 ${verdict.type}: ${verdict.message}`);
        return xmlError(res, 403, 'Sender', verdict.type, verdict.message, requestId);
      }
    }
    try {
      const points = parsePutMetricData(body.toString('utf8'), now());
      store.add(points);
      stats.putRequests++;
      stats.putDatums += points.length;
      res
        .writeHead(200, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId })
        .end(`<PutMetricDataResponse xmlns="${XMLNS}"><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PutMetricDataResponse>`);
    } catch (err) {
      stats.putRejected++;
      if (!(err instanceof PutMetricDataError)) throw err;
      log(`400 ${err.code}: ${err.message}`);
      xmlError(res, err.code === 'RequestEntityTooLarge' ? 413 : 400, 'Sender', err.code, err.message, requestId);
    }
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    void (async () => {
      if (req.method === 'POST' && url.pathname === '/') return putMetricData(req, res);
      if (req.method === 'POST' && url.pathname === '/v1/traces') return exportTraces(req, res);
      if (req.method === 'GET' && url.pathname === '/api/traces') {
        const requestId = url.searchParams.get('request_id');
        const traceId = url.searchParams.get('trace_id');
        if (!requestId && !traceId) return json(400, { message: 'give request_id or trace_id' });
        const ids = traceId ? [traceId] : traces.traceIdsForRequest(requestId ?? '');
        return json(
          200,
          ids.map((id) => ({ traceId: id, spans: traces.trace(id) })),
        );
      }
      if (req.method === 'GET' && url.pathname === '/traces') {
        const requestId = url.searchParams.get('request_id');
        if (!requestId) return json(400, { message: 'give request_id' });
        return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(renderTimeline(traces, requestId));
      }
      if (req.method === 'GET' && url.pathname === '/') {
        const minutes = Math.min(180, Math.max(1, Number(url.searchParams.get('minutes') ?? 30) || 30));
        const refresh = Math.max(0, Number(url.searchParams.get('refresh') ?? 10) || 0);
        const day = new Date(now()).toISOString().slice(0, 10);
        const usage = options.usage
          ? await options.usage(day).catch((err: unknown) => {
              log(`usage read failed: ${String(err)}`);
              return undefined;
            })
          : undefined;
        const html = renderDashboard(store, {
          ...(usage ? { usageHtml: renderUsage(usage, day) } : {}),
          environment: url.searchParams.get('env') || options.environment || 'local',
          now: now(),
          minutes,
          refreshSeconds: refresh,
        });
        return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
      }
      if (req.method === 'GET' && url.pathname === '/api/datapoints') {
        const ns = url.searchParams.get('namespace') ?? undefined;
        const metric = url.searchParams.get('metric');
        return json(
          200,
          store.all(ns).filter((p) => !metric || p.metric === metric),
        );
      }
      if (req.method === 'GET' && url.pathname === '/api/stats') return json(200, { ...stats, datapoints: store.size });
      json(404, { message: `no route for ${req.method} ${url.pathname}` });
    })().catch((err: unknown) => {
      log(`500 ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) json(500, { message: 'internal error' });
      else res.destroy();
    });
  });
  server.on('connection', () => {
    stats.connections++;
  });
  const port = await listen(server, options.port, options.host ?? '127.0.0.1');
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    store,
    traces,
    stats: () => ({ ...stats }),
    ingestLine(line) {
      const points = parseEmfLine(line);
      if (!points) return false;
      stats.emfLines++;
      stats.emfDatapoints += points.length;
      store.add(points);
      return true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
