/**
 * The request side of the Upstash REST protocol: a command as a JSON array (`POST /`), a list of
 * them (`POST /pipeline`, `POST /multi-exec`) and the path style (`GET /set/key/value?EX=10`, with
 * an optional POST body as the last argument). Parsing only: bytes in, {@link RedisCommand}s or a
 * {@link ProtocolError} out.
 */

/** One Redis command as it will be sent: binary-safe arguments. */
export interface RedisCommand {
  /** Lower-case command name (how the stats count it; Redis ignores case). */
  readonly name: string;
  /** The arguments after the name. */
  readonly args: readonly Buffer[];
}

/** A request Upstash would refuse before running anything; carries the HTTP status to answer with. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses a request body as JSON, or throws a 400 {@link ProtocolError}. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new ProtocolError(400, 'ERR empty request body, expected a JSON array');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new ProtocolError(400, `ERR failed to parse request body as JSON: ${(err as Error).message}`);
  }
}

/**
 * Validates one command array: `[name, ...args]`, each item a string or a number. Booleans are
 * accepted too (as "true"/"false") because @upstash/redis serialises a boolean value unchanged.
 */
export function toCommand(value: unknown, where = 'request body'): RedisCommand {
  if (!Array.isArray(value)) {
    throw new ProtocolError(400, `ERR ${where} must be a JSON array: [command, ...args]`);
  }
  if (value.length === 0) throw new ProtocolError(400, `ERR empty command in ${where}`);
  const parts = value.map((item: unknown, index) => argumentText(item, index, where));
  const [name, ...rest] = parts as [string, ...string[]];
  if (name.length === 0) throw new ProtocolError(400, `ERR empty command name in ${where}`);
  return { name: name.toLowerCase(), args: rest.map((arg) => Buffer.from(arg, 'utf8')) };
}

function argumentText(item: unknown, index: number, where: string): string {
  switch (typeof item) {
    case 'string':
      return item;
    case 'number':
      if (!Number.isFinite(item)) break;
      return String(item);
    case 'boolean':
      return String(item);
    default:
      break;
  }
  const kind = item === null ? 'null' : Array.isArray(item) ? 'array' : typeof item;
  throw new ProtocolError(400, `ERR ${where}: item ${index} must be a string or a number, got ${kind}`);
}

/** Validates a pipeline or transaction body: a non-empty JSON array of command arrays. */
export function toCommandList(value: unknown): RedisCommand[] {
  if (!Array.isArray(value)) {
    throw new ProtocolError(400, 'ERR request body must be a JSON array of commands: [[command, ...args], ...]');
  }
  if (value.length === 0) throw new ProtocolError(400, 'ERR empty pipeline, send at least one command');
  return value.map((entry: unknown, index) => toCommand(entry, `command ${index}`));
}

/**
 * Reads a path-style command: `/cmd/arg1/arg2` (each segment URL-decoded), then the request body
 * as one more argument when there is one, then each query parameter except `_token` as `name value`
 * (`POST /set/k?EX=100` with body `v` is `SET k v EX 100`, as Upstash documents).
 */
export function pathCommand(pathname: string, query: URLSearchParams, body: Buffer): RedisCommand {
  const segments = pathname.split('/').slice(1);
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop();
  let decoded: string[];
  try {
    decoded = segments.map((segment) => decodeURIComponent(segment));
  } catch {
    throw new ProtocolError(400, 'ERR invalid percent-encoding in the request path');
  }
  const [name = '', ...rest] = decoded;
  if (name.length === 0) throw new ProtocolError(400, 'ERR empty command: use /{command}/{args...} or POST a JSON array to /');
  const args: Buffer[] = rest.map((arg) => Buffer.from(arg, 'utf8'));
  if (body.length > 0) args.push(body);
  for (const [key, value] of query) {
    if (key === '_token') continue;
    args.push(Buffer.from(key, 'utf8'));
    if (value !== '') args.push(Buffer.from(value, 'utf8'));
  }
  return { name: name.toLowerCase(), args };
}
