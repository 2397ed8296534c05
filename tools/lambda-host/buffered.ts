/**
 * BUFFERED invoke mode: run the handler to completion (promise, sync return or the legacy
 * callback), serialise its result as the runtime does, and map the JSON payload to an HTTP
 * response the way a Function URL does (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-response-payload):
 * a result without `statusCode` is a 200 `application/json` body; a result with one is a
 * payload format 2.0 response (`statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`).
 * Anything malformed is a function error (502).
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Context } from 'aws-lambda';
import { FunctionTimeoutError } from './context';
import { MAX_PAYLOAD_BYTES } from './responses';

/** An HTTP response ready to send. */
export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

/** A mapped result, or why the Function URL would reject it. */
export type MappedResult = { ok: true; response: HttpResult } | { ok: false; reason: string };

/** How an invocation ended. */
export type InvocationOutcome = { kind: 'result'; value: unknown } | { kind: 'error'; error: unknown };

type BufferedFn = (event: unknown, context: Context, callback: (error?: unknown, result?: unknown) => void) => unknown;
type SettleFn = (error: unknown, result?: unknown) => void;

/** Headers the front end owns; a handler's values for them are dropped. */
const HOP_BY_HOP = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonResponse(body: string): HttpResult {
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from(body) };
}

/** Checks and normalises response headers (string, number or boolean values, valid names and values). */
export function normaliseHeaders(raw: unknown): Record<string, string> | string {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) return 'headers is not an object';
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return `header ${name} is not a string`;
    const text = String(value);
    try {
      validateHeaderName(name);
      validateHeaderValue(name, text);
    } catch {
      return `header ${name} is not a valid HTTP header`;
    }
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers[name.toLowerCase()] = text;
  }
  return headers;
}

/** Checks the `cookies` array of a response (strings only). */
export function normaliseCookies(raw: unknown): string[] | string {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.some((c) => typeof c !== 'string')) return 'cookies is not an array of strings';
  const cookies = raw as string[];
  for (const cookie of cookies) {
    try {
      validateHeaderValue('set-cookie', cookie);
    } catch {
      return 'cookies contains an invalid value';
    }
  }
  return cookies;
}

/** Maps a structured (`statusCode`-bearing) result. */
function mapStructured(result: Record<string, unknown>): MappedResult {
  const { statusCode, body, isBase64Encoded } = result;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    return { ok: false, reason: 'statusCode is not an HTTP status code' };
  }
  const headers = normaliseHeaders(result['headers']);
  if (typeof headers === 'string') return { ok: false, reason: headers };
  const cookies = normaliseCookies(result['cookies']);
  if (typeof cookies === 'string') return { ok: false, reason: cookies };
  if (body !== undefined && body !== null && typeof body !== 'string') return { ok: false, reason: 'body is not a string' };
  if (isBase64Encoded !== undefined && isBase64Encoded !== null && typeof isBase64Encoded !== 'boolean') {
    return { ok: false, reason: 'isBase64Encoded is not a boolean' };
  }
  const text = body ?? '';
  let bytes: Buffer;
  if (isBase64Encoded === true) {
    const compact = text.replace(/\s+/g, '');
    if (compact.length % 4 === 1 || !BASE64.test(compact)) return { ok: false, reason: 'body is not valid base64' };
    bytes = Buffer.from(compact, 'base64');
  } else {
    bytes = Buffer.from(text, 'utf8');
  }
  headers['content-type'] ??= 'application/json';
  return { ok: true, response: { statusCode, headers, cookies, body: bytes } };
}

/**
 * Maps a handler's return value to an HTTP response: serialise it like the runtime
 * (`undefined` → `null`, `toJSON` honoured), enforce the 6 MB response limit, then interpret.
 */
export function mapBufferedResult(result: unknown): MappedResult {
  let payload: string;
  try {
    payload = JSON.stringify(result ?? null) ?? 'null';
  } catch (error) {
    return { ok: false, reason: `result is not serialisable: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
    return { ok: false, reason: `Response payload size exceeded maximum allowed payload size (${MAX_PAYLOAD_BYTES} bytes).` };
  }
  const parsed: unknown = JSON.parse(payload);
  if (typeof parsed === 'string') return { ok: true, response: jsonResponse(parsed) };
  if (isRecord(parsed) && 'statusCode' in parsed) return mapStructured(parsed);
  return { ok: true, response: jsonResponse(payload) };
}

/**
 * Runs a buffered handler until it settles or `timeoutMs` passes. Supports async handlers,
 * plain return values and the `(event, context, callback)` style; the first settlement wins.
 */
export function invokeBuffered(handler: BufferedFn, event: unknown, makeContext: (settle: SettleFn) => Context, timeoutMs: number): Promise<InvocationOutcome> {
  return new Promise<InvocationOutcome>((resolve) => {
    let settled = false;
    const settle: SettleFn = (error, result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(error !== null && error !== undefined ? { kind: 'error', error } : { kind: 'result', value: result });
    };
    const timer = setTimeout(() => settle(new FunctionTimeoutError(timeoutMs)), timeoutMs);
    const context = makeContext(settle);
    try {
      const returned = handler(event, context, settle);
      if (returned !== null && typeof returned === 'object' && typeof (returned as PromiseLike<unknown>).then === 'function') {
        Promise.resolve(returned).then(
          (value) => settle(null, value),
          (error: unknown) => settle(error ?? new Error('Handler rejected')),
        );
      } else if (handler.length < 3) {
        settle(null, returned);
      }
    } catch (error) {
      settle(error ?? new Error('Handler threw'));
    }
  });
}
