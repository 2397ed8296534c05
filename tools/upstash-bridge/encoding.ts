/**
 * The response side of the Upstash REST protocol: raw Redis replies to JSON text, plain (UTF-8,
 * invalid bytes become U+FFFD as Upstash documents) or with `Upstash-Encoding: base64`.
 *
 * Upstash's base64 rule, and what @upstash/redis's decoder relies on: every string is base64
 * except a top-level "OK" (the client maps a bare "OK" to "OK" and base64-decodes every other
 * string; inside arrays it decodes everything, so "OK" there must be encoded). Integers and null
 * are never encoded. The JSON is written by hand so integer replies keep all their digits.
 */

/**
 * A raw reply as the bridge's ioredis connection returns it: bulk and status strings as Buffers,
 * integers as decimal strings (`stringNumbers`), nil as null, arrays, and errors nested in arrays.
 */
export type RedisReply = Buffer | string | number | null | Error | readonly RedisReply[];

/** How strings are written: `utf8` (default) or `base64` (`Upstash-Encoding: base64`). */
export type ResponseEncoding = 'utf8' | 'base64';

/** One entry of a pipeline or transaction response. */
export type ResultEntry = { readonly result: RedisReply } | { readonly error: string };

const OK = Buffer.from('OK');
const INTEGER = /^-?\d+$/;

/** Picks the encoding from the request's `Upstash-Encoding` header. */
export function encodingOf(header: string | string[] | undefined): ResponseEncoding {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.trim().toLowerCase() === 'base64' ? 'base64' : 'utf8';
}

/** JSON text of a reply value; `top` marks the value directly under `result`. */
export function replyJson(reply: RedisReply, encoding: ResponseEncoding, top = true): string {
  if (reply === null) return 'null';
  if (Buffer.isBuffer(reply)) {
    if (encoding === 'utf8') return JSON.stringify(reply.toString('utf8'));
    if (top && reply.equals(OK)) return '"OK"';
    return `"${reply.toString('base64')}"`;
  }
  if (typeof reply === 'string') return INTEGER.test(reply) ? reply : stringJson(reply, encoding);
  if (typeof reply === 'number') return Number.isFinite(reply) ? String(reply) : 'null';
  if (reply instanceof Error) return stringJson(reply.message, encoding);
  return `[${reply.map((item) => replyJson(item, encoding, false)).join(',')}]`;
}

function stringJson(text: string, encoding: ResponseEncoding): string {
  return encoding === 'base64' ? `"${Buffer.from(text, 'utf8').toString('base64')}"` : JSON.stringify(text);
}

/** `{"result": ...}` for a single command. */
export function resultBody(reply: RedisReply, encoding: ResponseEncoding): string {
  return `{"result":${replyJson(reply, encoding)}}`;
}

/** `{"error": "..."}`: errors are never base64-encoded. */
export function errorBody(message: string): string {
  return JSON.stringify({ error: message });
}

/** `[{"result": ...} | {"error": "..."}, ...]` for a pipeline or a transaction. */
export function entriesBody(entries: readonly ResultEntry[], encoding: ResponseEncoding): string {
  const parts = entries.map((entry) => ('error' in entry ? errorBody(entry.error) : resultBody(entry.result, encoding)));
  return `[${parts.join(',')}]`;
}
