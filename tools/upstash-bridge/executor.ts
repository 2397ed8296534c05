/**
 * Runs Upstash-style commands, pipelines and transactions on one shared ioredis connection.
 *
 * Commands go through `callBuffer` with an upper-case name: ioredis keys its reply and argument
 * transformers on the lower-case name (HGETALL would become an object, HSET would expand objects),
 * so upper case keeps replies raw, as Upstash returns them. A request's commands are written in
 * one tick, so a MULTI … EXEC group is contiguous on the connection and no other request's
 * command can land inside it.
 */
import type { Redis } from 'ioredis';
import type { RedisReply, ResultEntry } from './encoding';
import type { RedisCommand } from './protocol';
import { adaptScriptCommand, type AdaptedCommand, type ScriptRegistry } from './scripts';
import type { StatsRecorder } from './stats';

/** Thrown when Redis cannot be reached or fails outside an error reply; the server answers 500. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/** A transaction Redis (or the bridge) discarded as a whole: Upstash answers one `{error}`. */
export interface TransactionAborted {
  readonly aborted: string;
}

const CONNECTION_STATE = 'it changes the state of the shared connection';
const LISTENS = 'it holds the connection open to listen (not served over REST)';
const BLOCKS = 'blocking commands are not supported over REST';
const TRANSACTION = 'use POST /multi-exec for transactions';
const SERVER = 'it would stop, hang or re-purpose the shared Redis server';

/** Commands the bridge refuses, with the reason it gives (Upstash's REST API refuses these too). */
export const UNSUPPORTED_COMMANDS: ReadonlyMap<string, string> = new Map([
  ...['auth', 'hello', 'select', 'client', 'reset', 'quit', 'readonly', 'readwrite'].map((n) => [n, CONNECTION_STATE] as const),
  ...['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe', 'monitor'].map((n) => [n, LISTENS] as const),
  ...['blpop', 'brpop', 'brpoplpush', 'blmove', 'blmpop', 'bzpopmin', 'bzpopmax', 'bzmpop', 'wait', 'waitaof'].map((n) => [n, BLOCKS] as const),
  ...['multi', 'exec', 'discard', 'watch', 'unwatch'].map((n) => [n, TRANSACTION] as const),
  ...['shutdown', 'sync', 'psync', 'replconf', 'replicaof', 'slaveof', 'debug'].map((n) => [n, SERVER] as const),
]);

/** Why the bridge refuses a command, or undefined when it may run. */
export function refusalOf(command: RedisCommand): string | undefined {
  const reason =
    UNSUPPORTED_COMMANDS.get(command.name) ??
    ((command.name === 'xread' || command.name === 'xreadgroup') && command.args.some((arg) => arg.toString('latin1').toLowerCase() === 'block')
      ? BLOCKS
      : undefined);
  return reason && `ERR Command is not available: '${command.name}': ${reason}`;
}

function isReplyError(err: unknown): err is Error {
  return err instanceof Error && err.name === 'ReplyError';
}

type Sent = { readonly reply: RedisReply } | { readonly failure: Error };

/** Runs commands for the server; counts each command it sends to Redis. */
export class CommandRunner {
  constructor(
    private readonly redis: Pick<Redis, 'callBuffer'>,
    private readonly scripts: ScriptRegistry,
    private readonly stats: StatsRecorder,
  ) {}

  /** One command: its reply, or its error reply (refused commands never reach Redis). */
  run(command: RedisCommand): Promise<ResultEntry> {
    const refusal = refusalOf(command);
    if (refusal) return Promise.resolve({ error: refusal });
    const adapted = adaptScriptCommand(command, this.scripts);
    return this.send(adapted.command).then((sent) => this.entry(adapted, sent));
  }

  /** Commands in order, not atomic; each entry carries its own result or error. */
  pipeline(commands: readonly RedisCommand[]): Promise<ResultEntry[]> {
    return Promise.all(commands.map((command) => this.run(command)));
  }

  /**
   * Commands as one MULTI/EXEC transaction. A refused command or one Redis will not queue (unknown
   * command, wrong arity) discards the whole transaction, as on Upstash; errors raised while EXEC
   * runs are per entry and the other commands still apply.
   */
  async transaction(commands: readonly RedisCommand[]): Promise<ResultEntry[] | TransactionAborted> {
    for (const command of commands) {
      const refusal = refusalOf(command);
      if (refusal) return { aborted: refusal };
    }
    const adapted = commands.map((command) => adaptScriptCommand(command, this.scripts));
    const multi = this.send({ name: 'multi', args: [] }, false);
    const queued = adapted.map((a) => this.send(a.command));
    const exec = this.send({ name: 'exec', args: [] }, false);
    const [multiSent, execSent, ...queuedSent] = await Promise.all([multi, exec, ...queued]);
    if (!multiSent || 'failure' in multiSent) throw new RedisUnavailableError(`MULTI failed: ${failureText(multiSent)}`);
    const notQueued = queuedSent.findIndex((sent) => 'failure' in sent);
    const rejected = queuedSent[notQueued];
    if (rejected && 'failure' in rejected) return { aborted: adapted[notQueued]?.mapError(rejected.failure.message) ?? rejected.failure.message };
    if (!execSent || 'failure' in execSent) return { aborted: failureText(execSent) };
    const replies = execSent.reply;
    if (!Array.isArray(replies)) return { aborted: 'EXECABORT Transaction discarded' };
    return adapted.map((a, index) => {
      const reply: RedisReply = (replies as readonly RedisReply[])[index] ?? null;
      return reply instanceof Error ? { error: a.mapError(reply.message) } : { result: a.mapReply(reply) };
    });
  }

  private entry(adapted: AdaptedCommand, sent: Sent): ResultEntry {
    return 'failure' in sent ? { error: adapted.mapError(sent.failure.message) } : { result: adapted.mapReply(sent.reply) };
  }

  /** Sends a command; resolves with its reply or error reply, rejects when Redis is unreachable. */
  private async send(command: RedisCommand, counted = true): Promise<Sent> {
    if (counted) this.stats.command(command.name);
    try {
      const reply = (await this.redis.callBuffer(command.name.toUpperCase(), [...command.args])) as RedisReply;
      return { reply };
    } catch (err) {
      if (isReplyError(err)) return { failure: err };
      throw new RedisUnavailableError(`Redis is unavailable: ${(err as Error).message}`, { cause: err });
    }
  }
}

function failureText(sent: Sent | undefined): string {
  return sent && 'failure' in sent ? sent.failure.message : 'no reply';
}
