/**
 * The local Lambda host: one HTTP listener per function, each behaving like that function's
 * Lambda Function URL (own origin, payload format 2.0 event, AWS_IAM SigV4 check, BUFFERED or
 * RESPONSE_STREAM invoke mode, Function URL error answers). Handlers are the backend's real
 * modules, run in this process with the `awslambda` global installed.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { BodyTooLargeError, listen, readBody } from '../lib/net';
import { invokeBuffered, mapBufferedResult, type HttpResult } from './buffered';
import { createContext, formatInvokeError, FunctionTimeoutError } from './context';
import { buildFunctionUrlEvent, collectHeaders, splitTarget, type IamAuthorizer } from './event';
import { MAX_PAYLOAD_BYTES, REQUEST_ID_HEADER, sendAuthError, sendBadRequest, sendFunctionError, sendPayloadTooLarge } from './responses';
import { installAwsLambdaGlobal, isStreamingHandler, streamHighWaterMark, type ResponseStream } from './runtime-shim';
import { sha256Hex, verifySigV4 } from './sigv4';
import { runStreamingInvocation } from './streaming';
import type { FunctionSpec, HandlerSource, LambdaHandler, LambdaHost, LambdaHostOptions, LocalCredentials } from './types';

export type { FunctionSpec, LambdaHandler, LambdaHost, LambdaHostOptions } from './types';

const DEFAULT_TIMEOUT_MS = 3000;
const DEFAULT_ACCOUNT_ID = '123456789012';

type BufferedFn = (event: unknown, context: Context, callback: (error?: unknown, result?: unknown) => void) => unknown;
type StreamingFn = (event: unknown, responseStream: ResponseStream, context: Context) => unknown;

/** A function ready to serve. */
interface LoadedFunction {
  name: string;
  handler: LambdaHandler;
  streaming: boolean;
  authType: 'AWS_IAM' | 'NONE';
  timeoutMs: number;
  apiId: string;
}

/** Host-wide settings every request handler reads. */
interface HostSettings {
  region: string;
  credentials: readonly LocalCredentials[];
  maxBodyBytes: number;
  now: () => number;
  log: (line: string) => void;
  accountId: string;
}

async function loadHandler(source: HandlerSource): Promise<LambdaHandler> {
  if (typeof source === 'function') return source;
  const exportName = source.export ?? 'handler';
  const mod = (await import(pathToFileURL(resolvePath(source.module)).href)) as Record<string, unknown>;
  const exported = mod[exportName];
  if (typeof exported !== 'function') throw new Error(`${source.module} has no function export '${exportName}'`);
  return exported as LambdaHandler;
}

/** The `authorizer.iam` block for a caller, with identity defaults derived from the access key. */
function iamIdentity(credentials: LocalCredentials): IamAuthorizer {
  const accountId = credentials.accountId ?? DEFAULT_ACCOUNT_ID;
  const userId = credentials.userId ?? `AIDA${sha256Hex(credentials.accessKeyId).slice(0, 17).toUpperCase()}`;
  return {
    accessKey: credentials.accessKeyId,
    accountId,
    callerId: userId,
    cognitoIdentity: null,
    principalOrgId: null,
    userArn: credentials.userArn ?? `arn:aws:iam::${accountId}:user/local-${credentials.accessKeyId}`,
    userId,
  };
}

function sendResult(res: ServerResponse, result: HttpResult, requestId: string): void {
  if (res.destroyed) return;
  const { 'set-cookie': setCookie, ...headers } = result.headers;
  const cookies = [...(setCookie === undefined ? [] : [setCookie]), ...result.cookies];
  res.writeHead(result.statusCode, {
    ...headers,
    ...(cookies.length > 0 ? { 'set-cookie': cookies } : {}),
    'content-length': String(result.body.length),
    [REQUEST_ID_HEADER]: requestId,
  });
  res.end(result.body);
}

async function handleRequest(fn: LoadedFunction, settings: HostSettings, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = randomUUID();
  const eventLimit = Math.max(settings.maxBodyBytes, MAX_PAYLOAD_BYTES);
  let body: Buffer;
  try {
    body = await readBody(req, settings.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) sendPayloadTooLarge(res, requestId, error.limitBytes);
    else res.destroy();
    return;
  }
  const target = req.url ?? '';
  if (!target.startsWith('/')) {
    sendBadRequest(res, requestId);
    return;
  }
  const headers = collectHeaders(req.rawHeaders);
  const now = settings.now();

  let authorizer: IamAuthorizer | null = null;
  if (fn.authType === 'AWS_IAM') {
    const { rawPath, rawQueryString } = splitTarget(target);
    const verdict = verifySigV4(
      { method: req.method ?? 'GET', path: rawPath, query: rawQueryString, headers, bodySha256: sha256Hex(body) },
      { region: settings.region, service: 'lambda', credentials: settings.credentials, now },
    );
    if (!verdict.ok) {
      settings.log(`[${fn.name}] ${requestId} 403 ${verdict.type}: ${verdict.message}`);
      sendAuthError(res, requestId, verdict.type, verdict.message);
      return;
    }
    authorizer = iamIdentity(verdict.credentials);
  }

  const event = buildFunctionUrlEvent({
    method: req.method ?? 'GET',
    target,
    httpVersion: req.httpVersion,
    headers,
    body,
    sourceIp: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
    requestId,
    now,
    apiId: fn.apiId,
    accountId: fn.authType === 'AWS_IAM' ? settings.accountId : 'anonymous',
    authorizer,
  });
  if (Buffer.byteLength(JSON.stringify(event)) > eventLimit) {
    sendPayloadTooLarge(res, requestId, eventLimit);
    return;
  }

  const contextInput = { functionName: fn.name, region: settings.region, accountId: settings.accountId, requestId, deadline: Date.now() + fn.timeoutMs };
  const logFailure = (error: unknown) => {
    if (error instanceof FunctionTimeoutError) settings.log(`[${fn.name}] ${requestId} ${error.message}`);
    else settings.log(formatInvokeError(fn.name, requestId, error));
  };

  if (fn.streaming) {
    await runStreamingInvocation({
      handler: fn.handler as unknown as StreamingFn,
      event,
      context: createContext(contextInput, () => {}),
      res,
      requestId,
      timeoutMs: fn.timeoutMs,
      highWaterMark: streamHighWaterMark(fn.handler),
      onError: logFailure,
    });
    return;
  }

  const outcome = await invokeBuffered(fn.handler as unknown as BufferedFn, event, (settle) => createContext(contextInput, settle), fn.timeoutMs);
  if (outcome.kind === 'error') {
    logFailure(outcome.error);
    sendFunctionError(res, requestId);
    return;
  }
  const mapped = mapBufferedResult(outcome.value);
  if (!mapped.ok) {
    settings.log(`[${fn.name}] ${requestId} invalid function response: ${mapped.reason}`);
    sendFunctionError(res, requestId);
    return;
  }
  sendResult(res, mapped.response, requestId);
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function validate(options: LambdaHostOptions): void {
  if (!options.region) throw new Error('lambda host: region is required');
  if (options.functions.length === 0) throw new Error('lambda host: at least one function is required');
  const names = new Set<string>();
  for (const spec of options.functions) {
    if (!spec.name) throw new Error('lambda host: every function needs a name');
    if (names.has(spec.name)) throw new Error(`lambda host: duplicate function name '${spec.name}'`);
    names.add(spec.name);
    if (spec.timeoutMs !== undefined && !(spec.timeoutMs > 0)) throw new Error(`lambda host: ${spec.name}: timeoutMs must be positive`);
  }
  if (options.functions.some((f) => (f.authType ?? 'AWS_IAM') === 'AWS_IAM') && options.credentials.length === 0) {
    throw new Error('lambda host: AWS_IAM functions need at least one entry in credentials');
  }
}

async function loadFunction(spec: FunctionSpec, envOwners: Map<string, string>, log: (line: string) => void): Promise<LoadedFunction> {
  for (const [key, value] of Object.entries(spec.env ?? {})) {
    const owner = envOwners.get(key);
    if (owner !== undefined && process.env[key] !== value) log(`[${spec.name}] env ${key} overrides the value set for ${owner} (one process, one environment)`);
    envOwners.set(key, spec.name);
    process.env[key] = value;
  }
  const handler = await loadHandler(spec.handler);
  const streaming = isStreamingHandler(handler);
  if (spec.invokeMode !== undefined && (spec.invokeMode === 'RESPONSE_STREAM') !== streaming) {
    throw new Error(
      `lambda host: ${spec.name}: invokeMode ${spec.invokeMode} but the handler is ${streaming ? '' : 'not '}wrapped in awslambda.streamifyResponse`,
    );
  }
  return {
    name: spec.name,
    handler,
    streaming,
    authType: spec.authType ?? 'AWS_IAM',
    timeoutMs: spec.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    apiId: createHash('sha256').update(spec.name).digest('hex').slice(0, 32),
  };
}

/**
 * Starts one Function-URL-compatible listener per function. Installs the `awslambda` global
 * first (unless present), applies each function's env, loads its module (cold start), and fails
 * fast on a bad spec. Resolves once every listener is up.
 */
export async function startLambdaHost(options: LambdaHostOptions): Promise<LambdaHost> {
  validate(options);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settings: HostSettings = {
    region: options.region,
    credentials: options.credentials,
    maxBodyBytes: options.maxBodyBytes ?? MAX_PAYLOAD_BYTES,
    now: options.now ?? Date.now,
    log,
    accountId: options.accountId ?? DEFAULT_ACCOUNT_ID,
  };
  const host = options.host ?? '127.0.0.1';
  installAwsLambdaGlobal();

  const servers: Server[] = [];
  const urls: Record<string, string> = {};
  const envOwners = new Map<string, string>();
  try {
    for (const spec of options.functions) {
      const fn = await loadFunction(spec, envOwners, log);
      const server = createServer((req, res) => {
        handleRequest(fn, settings, req, res).catch((error: unknown) => {
          log(`[${fn.name}] host error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          if (!res.headersSent) sendFunctionError(res, randomUUID());
          else res.destroy();
        });
      });
      servers.push(server);
      const port = await listen(server, spec.port ?? 0, host);
      urls[spec.name] = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
    }
  } catch (error) {
    await Promise.all(servers.map(closeServer));
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    urls,
    close: () => (closing ??= Promise.all(servers.map(closeServer)).then(() => undefined)),
  };
}
