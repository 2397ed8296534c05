/**
 * The bridge's HTTP routing: authenticate, read the body with a cap, parse the Upstash request
 * shape, run it and answer as Upstash does (200 `{result}`, 400 `{error}`, 200 `[{result}|{error}]`
 * for pipelines and transactions, 401 for a bad token, 405 for a method Upstash does not accept).
 * Also serves the test counters at `/_bridge/stats` and the fault knobs at `/admin/config`
 * (faults.ts), both with the bridge's token; neither meets the knobs' latency or faults.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody } from '../lib/net';
import { presentedToken, UNAUTHORIZED_MESSAGE } from './auth';
import { encodingOf, entriesBody, errorBody, resultBody } from './encoding';
import { RedisUnavailableError, type CommandRunner } from './executor';
import { FaultConfigError, parseFaultPatch, type FaultKnobs } from './faults';
import { parseJsonBody, pathCommand, ProtocolError, toCommand, toCommandList } from './protocol';
import type { StatsRecorder } from './stats';

/** What the request handler needs; built once by the server. */
export interface HandlerDeps {
  readonly runner: CommandRunner;
  readonly stats: StatsRecorder;
  readonly faults: FaultKnobs;
  readonly checkToken: (presented: string | undefined) => boolean;
  readonly maxBodyBytes: number;
  readonly log: (line: string) => void;
}

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** Methods Upstash's REST API accepts; anything else is 405. */
const COMMAND_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT']);
const BATCH_METHODS = new Set(['POST', 'PUT']);
const STATS_PATH = '/_bridge/stats';
const ADMIN_CONFIG_PATH = '/admin/config';
/** Admin bodies are a few bytes of JSON. */
const ADMIN_BODY_LIMIT = 64 * 1024;
/** The body a request meets under `fault: "unavailable"`; JSON with `error`, as the client parses it. */
const UNAVAILABLE_BODY = errorBody('ERR upstash-bridge: the store is unavailable (fault injected through /admin/config)');

/** Dropping the connection without an answer: the listener writes nothing for it. */
const DROPPED = Symbol('dropped');

/** Builds the `node:http` request listener. It never throws: every failure becomes a response. */
export function createRequestHandler(deps: HandlerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return function handleRequest(req, res) {
    req.on('error', () => res.destroy());
    answer(req, deps).then(
      (reply) => {
        if (reply === DROPPED) req.socket.destroy();
        else send(res, reply);
      },
      (err: unknown) => {
        deps.log(`upstash-bridge: ${req.method} ${req.url?.split('?')[0]} failed: ${(err as Error).stack ?? String(err)}`);
        if (res.headersSent) res.destroy();
        else send(res, { status: 500, body: errorBody(`ERR upstash-bridge internal error: ${(err as Error).message}`) });
      },
    );
  };
}

async function answer(req: IncomingMessage, deps: HandlerDeps): Promise<Reply | typeof DROPPED> {
  const url = splitUrl(req.url ?? '/');
  const method = (req.method ?? 'GET').toUpperCase();
  const authorized = deps.checkToken(presentedToken(req.headers, url.searchParams));
  if (url.pathname.startsWith('/_bridge/')) {
    req.resume();
    return authorized ? bridgeEndpoint(url.pathname, method, deps) : { status: 401, body: errorBody(UNAUTHORIZED_MESSAGE) };
  }
  if (url.pathname.startsWith('/admin/')) {
    if (!authorized) {
      req.resume();
      return { status: 401, body: errorBody(UNAUTHORIZED_MESSAGE) };
    }
    return adminEndpoint(req, url.pathname, method, deps);
  }
  // The body is taken in at once, so a stalled request still runs when its client has given up
  // (as on a stalled server that already received it).
  const received = readRequestBody(req, deps.maxBodyBytes).then(
    (body) => ({ body }),
    (error: unknown) => ({ error }),
  );
  // The knobs act before anything else, as a slow or dead host would: even before the token check.
  const outcome = await deps.faults.meet();
  if (outcome === 'reset') return DROPPED;
  if (outcome === 'unavailable') return { status: 503, body: UNAVAILABLE_BODY };
  if (!authorized) {
    deps.stats.request('unauthorized');
    return { status: 401, body: errorBody(UNAUTHORIZED_MESSAGE) };
  }
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const batch = path === '/pipeline' ? 'pipeline' : path === '/multi-exec' ? 'transaction' : undefined;
  try {
    if (!(batch ? BATCH_METHODS : COMMAND_METHODS).has(method)) {
      throw new ProtocolError(405, `ERR method ${method} not allowed on ${path}`);
    }
    const got = await received;
    if ('error' in got) throw got.error;
    const body = got.body;
    const encoding = encodingOf(req.headers['upstash-encoding']);
    if (batch) {
      const commands = toCommandList(parseJsonBody(body));
      deps.stats.request(batch);
      if (batch === 'pipeline') return { status: 200, body: entriesBody(await deps.runner.pipeline(commands), encoding) };
      const outcome = await deps.runner.transaction(commands);
      if ('aborted' in outcome) return { status: 400, body: errorBody(outcome.aborted) };
      return { status: 200, body: entriesBody(outcome, encoding) };
    }
    const command = path === '/' ? rootCommand(method, body) : pathCommand(path, url.searchParams, body);
    deps.stats.request('command');
    const entry = await deps.runner.run(command);
    return 'error' in entry ? { status: 400, body: errorBody(entry.error) } : { status: 200, body: resultBody(entry.result, encoding) };
  } catch (err) {
    if (err instanceof ProtocolError) {
      deps.stats.request('invalid');
      return { status: err.status, body: errorBody(err.message) };
    }
    if (err instanceof RedisUnavailableError) {
      deps.log(`upstash-bridge: ${err.message}`);
      return { status: 500, body: errorBody(`ERR ${err.message}`) };
    }
    throw err;
  }
}

/** Splits a request target without URL normalisation: `/get/..` must stay the key `..`. */
function splitUrl(target: string): { pathname: string; searchParams: URLSearchParams } {
  const mark = target.indexOf('?');
  const pathname = mark === -1 ? target : target.slice(0, mark);
  return { pathname: pathname.startsWith('/') ? pathname : `/${pathname}`, searchParams: new URLSearchParams(mark === -1 ? '' : target.slice(mark + 1)) };
}

/** `POST /` carries the command as a JSON array; a bare `GET /` names no command. */
function rootCommand(method: string, body: Buffer) {
  if (method === 'GET' || method === 'HEAD') {
    throw new ProtocolError(400, 'ERR empty command: use /{command}/{args...} or POST a JSON array to /');
  }
  return toCommand(parseJsonBody(body));
}

async function readRequestBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  try {
    return await readBody(req, limitBytes);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      throw new ProtocolError(400, `ERR max request size exceeded. Limit: ${err.limitBytes} bytes`);
    }
    throw err;
  }
}

function bridgeEndpoint(path: string, method: string, deps: HandlerDeps): Reply {
  if (path !== STATS_PATH) return { status: 404, body: errorBody(`ERR unknown bridge endpoint ${path}`) };
  if (method === 'GET' || method === 'HEAD') return { status: 200, body: JSON.stringify(deps.stats.snapshot()) };
  if (method === 'DELETE') {
    deps.stats.reset();
    return { status: 200, body: '{"result":"OK"}' };
  }
  return { status: 405, body: errorBody(`ERR method ${method} not allowed on ${path}`) };
}

/** `GET /admin/config` answers the knobs; `PUT` applies a validated partial update and answers the result. */
async function adminEndpoint(req: IncomingMessage, path: string, method: string, deps: HandlerDeps): Promise<Reply> {
  if (path !== ADMIN_CONFIG_PATH) {
    req.resume();
    return { status: 404, body: errorBody(`ERR unknown admin endpoint ${path}; the fault knobs are at ${ADMIN_CONFIG_PATH}`) };
  }
  if (method === 'GET' || method === 'HEAD') {
    req.resume();
    return { status: 200, body: JSON.stringify(deps.faults.config) };
  }
  if (method !== 'PUT') {
    req.resume();
    return { status: 405, body: errorBody(`ERR method ${method} not allowed on ${path}; use GET or PUT`) };
  }
  let input: unknown;
  try {
    input = JSON.parse((await readBody(req, ADMIN_BODY_LIMIT)).toString('utf8'));
  } catch (err) {
    if (err instanceof BodyTooLargeError) return { status: 413, body: errorBody(`ERR admin body exceeds ${err.limitBytes} bytes`) };
    return { status: 400, body: errorBody(`ERR invalid JSON in admin body: ${(err as Error).message}`) };
  }
  try {
    return { status: 200, body: JSON.stringify(deps.faults.update(parseFaultPatch(input))) };
  } catch (err) {
    if (err instanceof FaultConfigError) return { status: 400, body: JSON.stringify({ error: `ERR invalid fault config: ${err.message}`, field: err.field }) };
    throw err;
  }
}

function send(res: ServerResponse, reply: Reply): void {
  const bytes = Buffer.from(reply.body, 'utf8');
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': bytes.length });
  res.end(bytes);
}
