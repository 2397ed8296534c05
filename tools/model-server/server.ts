/**
 * Reference model server: a stand-in for the GPU container, not a model.
 *
 * A CPU process that speaks the wire protocols of what the backend adapters call in production —
 * the SageMaker runtime in front of a TGI / vLLM / LMI container (InvokeEndpoint and
 * InvokeEndpointWithResponseStream with event-stream framing and SageMaker's error shapes), the
 * container contract itself (`/ping`, `/invocations`), vLLM's OpenAI-compatible API and TGI's
 * native `/generate`, and the embedding routes of TEI and vLLM (embeddings.ts) — answering with
 * deterministic text and vectors, with configurable latency and failure
 * injection (options at start, `/admin/*` at run time).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { handleAdmin } from './admin-routes';
import { applyConfigPatch, DEFAULT_CONFIG, type ModelServerConfig, type ModelServerConfigPatch } from './config';
import { containerInvocations, handleHealth, handleHttpInference, tgiGenerate, tgiGenerateStream, type HttpInferenceRoute } from './container-routes';
import { handleHttpEmbeddings } from './embeddings';
import { dropsConnection, ErrorRateCounter, LiveConnections } from './faults';
import { sendJson } from './io';
import { handleModels, openAiChatRoute, openAiCompletionsRoute, openAiResponsesRoute } from './openai-routes';
import { handleSageMaker } from './sagemaker-routes';
import { sageMakerErrors } from './sagemaker-wire';
import type { ServerContext } from './serve';
import { ReceivedRequests, type ReceivedRequest } from './received';
import { StatsRecorder, type ModelServerStats } from './stats';
import { listen } from '../lib/net';

export type { ModelServerConfig, ModelServerConfigPatch } from './config';
export type { ModelServerStats } from './stats';
export type { ReceivedRequest } from './received';

/** Start options. */
export interface ModelServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Initial configuration over {@link DEFAULT_CONFIG}; `POST /admin/reset` returns to it. */
  config?: ModelServerConfigPatch;
  /** Request body cap. Default 6 MiB (SageMaker's real-time payload limit). */
  maxBodyBytes?: number;
  /** One line per request (`METHOD path status ms`) and lifecycle events. Default: silent. */
  log?: (line: string) => void;
}

/** A running server. */
export interface ModelServer {
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  config(): ModelServerConfig;
  /** Partial merge, validated (throws ModelServerConfigError). */
  setConfig(patch: ModelServerConfigPatch): void;
  stats(): ModelServerStats;
  /** The trace context and request id of each inference request received (oldest first), or of one request id's. */
  received(requestId?: string): ReceivedRequest[];
  /** Configuration back to the start options, counters and error-rate sequence zeroed. */
  reset(): void;
  /** Stops accepting, cancels in-flight generations, closes every connection. */
  close(): Promise<void>;
}

const HTTP_ROUTES: Readonly<Record<string, HttpInferenceRoute>> = {
  '/invocations': containerInvocations,
  '/v1/chat/completions': openAiChatRoute,
  '/v1/completions': openAiCompletionsRoute,
  '/v1/responses': openAiResponsesRoute,
  '/generate': tgiGenerate,
  '/generate_stream': tgiGenerateStream,
};

const SAGEMAKER_PATH = /^\/endpoints\/([^/]+)\/(invocations|invocations-response-stream)$/;

/** Starts a reference model server; resolves once it listens. */
export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  const startedAt = Date.now();
  const initial = applyConfigPatch(DEFAULT_CONFIG, options.config ?? {}, startedAt);
  let config = initial;
  const stats = new StatsRecorder();
  const received = new ReceivedRequests();
  const errorRate = new ErrorRateCounter();
  const inFlight = new Set<AbortController>();
  const live = new LiveConnections();

  const ctx: ServerContext = {
    config: () => config,
    errorRate,
    stats,
    received,
    maxBodyBytes: options.maxBodyBytes ?? 6 * 1024 * 1024,
    track(res) {
      const controller = new AbortController();
      inFlight.add(controller);
      res.once('close', () => {
        inFlight.delete(controller);
        if (!res.writableFinished) controller.abort();
      });
      return controller.signal;
    },
  };
  const admin = {
    config: () => config,
    setConfig: (patch: ModelServerConfigPatch) => {
      config = applyConfigPatch(config, patch, Date.now());
      if (config.fault === 'reset') live.dropAll();
    },
    stats: () => stats.snapshot(),
    received: (requestId?: string) => received.list(requestId),
    reset: () => {
      config = initial;
      stats.reset();
      received.clear();
      errorRate.reset();
    },
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (dropsConnection(config, path)) {
      req.socket.destroy();
      return;
    }
    if (!path.startsWith('/admin/')) live.add(res);
    const sageMaker = SAGEMAKER_PATH.exec(path);
    if (sageMaker) {
      if (method !== 'POST') return sendJson(res, 405, { Message: `${method} is not allowed` });
      received.record(req, path, true);
      return handleSageMaker(ctx, req, res, sageMaker[1] ?? '', sageMaker[2] === 'invocations' ? 'invoke' : 'invokeStream');
    }
    if (path.startsWith('/endpoints/')) {
      const error = sageMakerErrors.unknownOperation();
      return sendJson(res, error.status, error.body, error.headers);
    }
    if (path.startsWith('/admin/')) return handleAdmin(admin, req, res, path);
    if (path === '/v1/embeddings' || path === '/embed') {
      if (method !== 'POST') return sendJson(res, 405, { detail: 'Method Not Allowed' });
      return handleHttpEmbeddings(ctx, req, res, path === '/embed' ? 'tei' : 'openai');
    }
    const inference = HTTP_ROUTES[path];
    if (inference) {
      if (method !== 'POST') return sendJson(res, 405, { detail: 'Method Not Allowed' });
      received.record(req, path, false);
      return handleHttpInference(ctx, req, res, inference);
    }
    if (method === 'GET' && (path === '/ping' || path === '/health')) return handleHealth(ctx, res);
    if (method === 'GET' && path === '/v1/models') return handleModels(ctx, res, startedAt);
    sendJson(res, 404, { detail: 'Not Found' });
  }

  const server = createServer((req, res) => {
    const started = performance.now();
    res.on('error', () => {});
    res.once('close', () => log(`${req.method} ${req.url} ${res.writableFinished ? res.statusCode : 'aborted'} ${Math.round(performance.now() - started)}ms`));
    route(req, res).catch((error: unknown) => {
      log(`error on ${req.method} ${req.url}: ${error instanceof Error ? error.stack : String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { error: { message: 'reference model server: internal error', type: 'InternalServerError', code: 500 } });
      else res.destroy();
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  const port = await listen(server, options.port ?? 0, host);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    port,
    config: admin.config,
    setConfig: admin.setConfig,
    stats: admin.stats,
    received: admin.received,
    reset: admin.reset,
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const controller of inFlight) controller.abort();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
