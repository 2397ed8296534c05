/**
 * The operator CLI as a function: `runCli(argv, io)` parses the command line with node:util
 * parseArgs, connects to the store, runs the command and prints its text (or `--json`), and maps
 * every failure to a one-line reason and an exit status (1 failed, 2 bad usage). It never throws
 * and never prints a stack trace (unless GW_DEBUG=1). main.ts wires it to the process.
 */
import { parseArgs } from 'node:util';
import { TenancyError, type TenancyStore } from '../tenancy/store';
import { UsageError } from './args';
import type { AnyCommand, CommandOutput } from './command';
import { connectStore, describeStoreError, resolveStoreConfig, StoreConfigError, type StoreConfig } from './connection';
import { commandHelp, globalHelp, groupHelp } from './help';
import { keyCommands } from './key-commands';
import { tenantCommands } from './tenant-commands';
import { GatewayError, operatorCommands } from './operator-commands';
import { usageCommands } from './usage-commands';
import { webhookSecretCommands } from './webhook-commands';
import { webhookSendCommands } from './webhook-send';

/** Every command, in the order help lists them. */
export const COMMANDS: readonly AnyCommand[] = [
  ...tenantCommands,
  ...webhookSecretCommands,
  ...keyCommands,
  ...operatorCommands,
  ...usageCommands,
  ...webhookSendCommands,
];

/** The action a group runs when its second word is none of its actions (`usage TENANT …` is `usage report TENANT …`). */
const DEFAULT_ACTIONS: Readonly<Record<string, string>> = { usage: 'report' };

/** The process around the CLI, injectable for tests. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Clock in ms; default Date.now. */
  readonly now?: () => number;
  /** Store client factory; default an @upstash/redis client (connection.ts). */
  readonly connect?: (config: StoreConfig) => TenancyStore;
  /** HTTP for commands that call the gateway (`dlq …`); default the global fetch. */
  readonly fetch?: typeof fetch;
}

/** Exit statuses. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

interface Failure {
  readonly code: string;
  readonly message: string;
  readonly status: number;
}

function firstSentence(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/\. To specify a positional argument.*$/, '').trim();
}

function parseCommandLine(argv: readonly string[]): { json: boolean; help: boolean; rest: string[] } {
  let json = false;
  let help = false;
  let i = 0;
  for (; i < argv.length && argv[i]?.startsWith('-'); i++) {
    if (argv[i] === '--json') json = true;
    else if (argv[i] === '--help' || argv[i] === '-h') help = true;
    else throw new UsageError(`unknown option '${argv[i]}' before the command`);
  }
  return { json, help, rest: argv.slice(i) };
}

function isGroup(name: string | undefined): name is string {
  return name !== undefined && COMMANDS.some((c) => c.name.startsWith(`${name} `));
}

/** The most specific help for `group action`, falling back to the group's, then the overview. */
function helpFor(group: string | undefined, action: string | undefined): string {
  const command = COMMANDS.find((c) => c.name === `${group} ${action}`);
  if (command) return commandHelp(command);
  return isGroup(group) ? groupHelp(group, COMMANDS) : globalHelp(COMMANDS);
}

function checkPositionals(command: AnyCommand, given: readonly string[]): void {
  const required = command.positionals.filter((p) => !p.endsWith('?'));
  if (given.length < required.length) throw new UsageError(`${command.name}: missing ${required.slice(given.length).join(' ')}`);
  if (given.length > command.positionals.length) throw new UsageError(`${command.name}: unexpected argument '${given[command.positionals.length]}'`);
}

/** Runs one command line; resolves to the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let json = argv.includes('--json');
  let storeConfig: StoreConfig | undefined;
  const print = (text: string) => io.stdout(text.endsWith('\n') ? text : `${text}\n`);
  try {
    const line = parseCommandLine(argv);
    json = line.json || json;
    const [group, given, ...after] = line.rest;
    const fallback = group !== undefined ? DEFAULT_ACTIONS[group] : undefined;
    const known = COMMANDS.some((c) => c.name === `${group} ${given}`);
    const [action, rest] =
      fallback && !known && (given === undefined || !['--help', '-h'].includes(given))
        ? [fallback, given === undefined ? after : [given, ...after]]
        : [given, after];
    if (group === undefined || group === 'help') {
      if (group === undefined && !line.help) {
        io.stderr(`${globalHelp(COMMANDS)}\n`);
        return EXIT.usage;
      }
      print(helpFor(action, rest[0]));
      return EXIT.ok;
    }
    if (!isGroup(group)) throw new UsageError(`unknown command '${group}' (expected tenant, key, operator, dlq, usage or webhook; see --help)`);
    if (action === undefined) {
      io.stderr(`${groupHelp(group, COMMANDS)}\n`);
      return EXIT.usage;
    }
    if (line.help || action === '--help' || action === '-h') {
      print(helpFor(group, action.startsWith('-') ? undefined : action));
      return EXIT.ok;
    }
    const command = COMMANDS.find((c) => c.name === `${group} ${action}`);
    if (!command) throw new UsageError(`unknown command '${group} ${action}' (see npm run gw -- ${group} --help)`);

    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
        allowPositionals: true,
        strict: true,
      });
    } catch (err) {
      throw new UsageError(`${command.name}: ${firstSentence(err instanceof Error ? err.message : String(err))}`);
    }
    json = json || parsed.values.json === true;
    if (parsed.values.help === true) {
      print(commandHelp(command));
      return EXIT.ok;
    }
    checkPositionals(command, parsed.positionals);

    // No option is declared `multiple`, so every value is a single string or boolean.
    const options = Object.fromEntries(Object.entries(parsed.values).map(([k, v]) => [k, Array.isArray(v) ? v.at(-1) : v]));
    const input = { args: parsed.positionals, options, now: (io.now ?? Date.now)(), env: io.env, ...(io.fetch ? { fetch: io.fetch } : {}) };
    let output: CommandOutput;
    if (command.storeless) output = await command.run(input);
    else {
      storeConfig = await resolveStoreConfig(io.env);
      output = await command.run({ ...input, store: (io.connect ?? connectStore)(storeConfig) });
    }
    print(json ? JSON.stringify(output.data, null, 2) : output.text);
    return EXIT.ok;
  } catch (err) {
    const failure = describeFailure(err, storeConfig);
    io.stderr(json ? `${JSON.stringify({ error: { code: failure.code, message: failure.message } })}\n` : `gw: ${failure.message}\n`);
    if (io.env.GW_DEBUG === '1' && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return failure.status;
  }
}

function describeFailure(err: unknown, config: StoreConfig | undefined): Failure {
  if (err instanceof UsageError) return { code: 'USAGE', message: err.message, status: EXIT.usage };
  if (err instanceof TenancyError) return { code: err.code, message: err.message, status: err.code === 'INVALID' ? EXIT.usage : EXIT.failed };
  if (err instanceof GatewayError) return { code: err.code === 'UNAVAILABLE' ? 'GATEWAY_UNAVAILABLE' : err.code, message: err.message, status: EXIT.failed };
  if (err instanceof StoreConfigError) return { code: 'STORE_CONFIG', message: err.message, status: EXIT.failed };
  const store = config ? describeStoreError(err, config) : undefined;
  if (store) return { code: 'STORE_UNAVAILABLE', message: store, status: EXIT.failed };
  const message = err instanceof Error ? firstSentence(err.message) : String(err);
  return { code: 'INTERNAL', message: `unexpected error: ${message} (GW_DEBUG=1 shows details)`, status: EXIT.failed };
}
