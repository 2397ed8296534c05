/**
 * What a CLI command is: its usage line, positional arguments, options (node:util parseArgs
 * config) and a run function that returns both a human text and a JSON value. The runner
 * (run.ts) parses, connects, runs and prints; commands never print or exit themselves.
 */
import type { ParseArgsConfig } from 'node:util';
import type { TenancyStore } from '../tenancy/store';
import type { OptionValues } from './args';

/** Everything a command gets. */
export interface CommandInput {
  readonly store: TenancyStore;
  /** The positional arguments: every required one, and the optional ones given. */
  readonly args: readonly string[];
  readonly options: OptionValues;
  /** The current time in ms (injectable for tests). */
  readonly now: number;
  /** The process environment (commands that call the gateway read GW_GATEWAY_URL / GW_ADMIN_KEY). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** HTTP for commands that call the gateway; default the global fetch. */
  readonly fetch?: typeof fetch;
}

/** What a command produces: `text` for people, `data` for `--json`. */
export interface CommandOutput {
  readonly text: string;
  readonly data: unknown;
}

/** A command of the CLI, e.g. `tenant create`. */
export interface Command {
  /** `group action`, e.g. `tenant create`. */
  readonly name: string;
  /** Arguments and options after the name, for the usage line. */
  readonly usage: string;
  readonly summary: string;
  /** Extra lines for the command's own help. */
  readonly details?: readonly string[];
  /** Names of the positional arguments; a trailing `?` marks an optional one (only at the end). */
  readonly positionals: readonly string[];
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** `false` for commands that only call the gateway: the runner then neither needs nor connects a store. */
  readonly store?: false;
  run(input: CommandInput): Promise<CommandOutput>;
}
