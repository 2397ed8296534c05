/**
 * The admin API of the reference model server, for tests and the local stack: read and patch the
 * configuration at run time, read the counters, reset both.
 *
 * `GET /admin/config`, `PUT /admin/config` (partial merge, validated: 400 on bad values),
 * `GET /admin/stats`, `GET /admin/requests[?request_id=]` (the trace context and request id each
 * inference request carried, received.ts), `POST /admin/reset` (configuration back to the start
 * options, counters and received requests cleared).
 * The admin API answers whatever fault is set (`fault: "reset"` drops every other connection), so
 * a test can always clear it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody } from '../lib/net';
import { ModelServerConfigError, parseConfigPatch, type ModelServerConfig, type ModelServerConfigPatch } from './config';
import { sendJson } from './io';
import type { ReceivedRequest } from './received';
import type { ModelServerStats } from './stats';

/** What the admin routes act on. */
export interface AdminTarget {
  config(): ModelServerConfig;
  setConfig(patch: ModelServerConfigPatch): void;
  stats(): ModelServerStats;
  received(requestId?: string): ReceivedRequest[];
  reset(): void;
}

function adminError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { message, type: 'invalid_request_error', code: status } });
}

/** Routes `/admin/*`; answers 404/405 for anything else under it. */
export async function handleAdmin(target: AdminTarget, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  const allowed: Record<string, string[]> = { '/admin/config': ['GET', 'PUT'], '/admin/stats': ['GET'], '/admin/requests': ['GET'], '/admin/reset': ['POST'] };
  const methods = allowed[path];
  if (!methods) return adminError(res, 404, `no admin route ${path}`);
  if (!methods.includes(method)) return adminError(res, 405, `${method} is not allowed on ${path}; use ${methods.join(' or ')}`);

  if (path === '/admin/stats') return sendJson(res, 200, target.stats());
  if (path === '/admin/requests') {
    const requestId = new URL(req.url ?? '/', 'http://localhost').searchParams.get('request_id') ?? undefined;
    return sendJson(res, 200, { requests: target.received(requestId) });
  }
  if (path === '/admin/reset') {
    target.reset();
    return sendJson(res, 200, target.config());
  }
  if (method === 'GET') return sendJson(res, 200, target.config());

  let patch: unknown;
  try {
    patch = JSON.parse((await readBody(req, 1024 * 1024)).toString('utf8'));
  } catch (error) {
    if (error instanceof BodyTooLargeError) return adminError(res, 413, error.message);
    return adminError(res, 400, `invalid JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    target.setConfig(parseConfigPatch(patch));
  } catch (error) {
    if (error instanceof ModelServerConfigError) return adminError(res, 400, error.message);
    throw error;
  }
  sendJson(res, 200, target.config());
}
