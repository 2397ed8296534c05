/**
 * Lua script compatibility between Upstash and Redis 7. Upstash accepts shebang flags that Redis
 * rejects ("Unexpected flag in script shebang"), e.g. @upstash/ratelimit's
 * `#!lua flags=allow-key-locking`. The bridge rewrites such scripts and, because the client
 * addresses scripts by the SHA1 of the text it sent, maps that SHA1 to the SHA1 of the rewritten
 * text for EVALSHA, EVALSHA_RO, SCRIPT LOAD and SCRIPT EXISTS. An unknown SHA1 still reaches Redis
 * unchanged, so the client's EVALSHA → "NOSCRIPT" → EVAL fallback keeps working.
 */
import { createHash } from 'node:crypto';
import type { RedisReply } from './encoding';
import type { RedisCommand } from './protocol';

/** The shebang flags Redis 7 understands; any other flag is dropped. */
export const REDIS_SCRIPT_FLAGS: ReadonlySet<string> = new Set(['no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys']);

/** Lower-case hex SHA1, as Redis and @upstash/redis compute script ids. */
export function sha1Hex(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/**
 * Drops the flags Redis does not know from a `#!lua flags=...` first line. When no flag and no
 * other option is left the shebang goes away (its line stays, empty, so error line numbers hold):
 * a script without a shebang runs with Redis's permissive defaults, closest to Upstash's.
 * Returns null when the script needs no change.
 */
export function rewriteShebang(script: Buffer): Buffer | null {
  if (script.length < 2 || script[0] !== 0x23 || script[1] !== 0x21) return null;
  const newline = script.indexOf(0x0a);
  const end = newline === -1 ? script.length : newline;
  const line = script.subarray(0, end).toString('utf8').replace(/\r$/, '');
  const [engine, ...options] = line.split(' ').filter((part) => part !== '');
  if (engine !== '#!lua') return null;
  let changed = false;
  const kept: string[] = [];
  for (const option of options) {
    if (!option.startsWith('flags=')) {
      kept.push(option);
      continue;
    }
    const flags = option
      .slice('flags='.length)
      .split(',')
      .filter((flag) => flag !== '');
    const known = flags.filter((flag) => REDIS_SCRIPT_FLAGS.has(flag));
    if (known.length === flags.length) {
      kept.push(option);
      continue;
    }
    changed = true;
    if (known.length > 0) kept.push(`flags=${known.join(',')}`);
  }
  if (!changed) return null;
  const first = kept.length === 0 ? '' : ['#!lua', ...kept].join(' ');
  return Buffer.concat([Buffer.from(first, 'utf8'), script.subarray(end)]);
}

/**
 * Remembers which SHA1 the client knows for each rewritten script (bounded: the oldest entries go
 * first; a forgotten entry only costs the client one NOSCRIPT → EVAL round).
 */
export class ScriptRegistry {
  private readonly redisShaOf = new Map<string, string>();
  private readonly clientShaOf = new Map<string, string>();

  constructor(private readonly capacity = 10_000) {}

  /** The body to send for a script, rewritten when needed (the SHA mapping is recorded then). */
  prepare(script: Buffer): Buffer {
    const rewritten = rewriteShebang(script);
    if (!rewritten) return script;
    this.remember(sha1Hex(script), sha1Hex(rewritten));
    return rewritten;
  }

  /** The SHA1 Redis knows for a SHA1 the client sent (itself when the script needed no rewrite). */
  redisSha(clientSha: string): string {
    return this.redisShaOf.get(clientSha.toLowerCase()) ?? clientSha;
  }

  /** Replaces the SHA1s of rewritten scripts in a Redis error message by the client's SHA1s. */
  clientMessage(message: string): string {
    return message.replace(/\b[0-9a-f]{40}\b/g, (sha) => this.clientShaOf.get(sha) ?? sha);
  }

  /** How many rewritten scripts are remembered. */
  get size(): number {
    return this.redisShaOf.size;
  }

  private remember(clientSha: string, redisSha: string): void {
    this.redisShaOf.delete(clientSha);
    this.redisShaOf.set(clientSha, redisSha);
    this.clientShaOf.set(redisSha, clientSha);
    while (this.redisShaOf.size > this.capacity) {
      const oldest = this.redisShaOf.keys().next().value as string;
      const sha = this.redisShaOf.get(oldest);
      this.redisShaOf.delete(oldest);
      if (sha !== undefined && this.clientShaOf.get(sha) === oldest) this.clientShaOf.delete(sha);
    }
  }
}

/** A command after script adaptation, with the inverse mapping for its reply. */
export interface AdaptedCommand {
  readonly command: RedisCommand;
  /** Maps a successful reply back to what the client expects. */
  readonly mapReply: (reply: RedisReply) => RedisReply;
  /** Maps an error message back to the client's script ids. */
  readonly mapError: (message: string) => string;
}

const identity = <T>(value: T): T => value;

/** Adapts EVAL*, EVALSHA* and SCRIPT LOAD/EXISTS; any other command passes through unchanged. */
export function adaptScriptCommand(command: RedisCommand, registry: ScriptRegistry): AdaptedCommand {
  const { name, args } = command;
  const mapError = (message: string) => registry.clientMessage(message);
  const [first, ...rest] = args;
  if (first === undefined) return { command, mapReply: identity, mapError: identity };
  switch (name) {
    case 'eval':
    case 'eval_ro':
      return { command: { name, args: [registry.prepare(first), ...rest] }, mapReply: identity, mapError };
    case 'evalsha':
    case 'evalsha_ro':
      return { command: { name, args: [shaArg(first, registry), ...rest] }, mapReply: identity, mapError };
    case 'script': {
      const sub = first.toString('latin1').toLowerCase();
      if (sub === 'load' && rest.length === 1 && rest[0]) {
        const script = rest[0];
        const prepared = registry.prepare(script);
        if (prepared === script) return { command, mapReply: identity, mapError };
        const clientSha = Buffer.from(sha1Hex(script), 'latin1');
        const mapReply = (reply: RedisReply) => (Buffer.isBuffer(reply) ? clientSha : reply);
        return { command: { name, args: [first, prepared] }, mapReply, mapError };
      }
      if (sub === 'exists') {
        return { command: { name, args: [first, ...rest.map((sha) => shaArg(sha, registry))] }, mapReply: identity, mapError };
      }
      return { command, mapReply: identity, mapError };
    }
    default:
      return { command, mapReply: identity, mapError: identity };
  }
}

function shaArg(sha: Buffer, registry: ScriptRegistry): Buffer {
  if (sha.length !== 40) return sha;
  const text = sha.toString('latin1');
  const mapped = registry.redisSha(text);
  return mapped === text ? sha : Buffer.from(mapped, 'latin1');
}
