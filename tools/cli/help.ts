/**
 * The CLI's help texts, built from the command table so usage lines cannot drift from the parser.
 */
import { PLANS, SCOPES } from '../../shared/contracts/tenancy';
import type { CommandInfo } from './command';

const VALUES = ['Values', `  PLAN      ${PLANS.join(' | ')}`, `  SCOPE     ${SCOPES.join(' | ')}`, '  DURATION  e.g. 90s, 15m, 24h, 30d, 2w, 1d12h'];

const COMMON = [
  'Options of every command',
  '  --json    machine-readable output on stdout; errors as one JSON line on stderr',
  '  --help    help for the command',
];

const STORE = [
  'Store',
  '  UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (a real Upstash database or the local bridge);',
  '  when unset, the running local stack from .local/stack.json ($STACK_STATE_DIR to change the directory).',
  '  GW_STORE_TIMEOUT_MS bounds each request (default 10000). GW_DEBUG=1 adds stack traces to errors.',
];

const GATEWAY = [
  'Gateway (operator and dlq commands: no store needed)',
  "  GW_OPERATOR_TOKEN, the gateway's operator credential (its OPERATOR_TOKEN secret), and --gateway URL or",
  '  GW_GATEWAY_URL; when unset, the running local stack from .local/stack.json, which npm start writes.',
];

const EXIT = ['Exit status: 0 done; 1 failed (unknown tenant, key or dead letter, conflict, store or gateway unreachable or refusing); 2 bad usage.'];

/** The overview: every command with its summary. */
export function globalHelp(commands: readonly CommandInfo[]): string {
  const groups = [...new Set(commands.map((c) => c.name.split(' ')[0] ?? ''))];
  const lines = [
    "gw: manage the gateway's tenants and API keys in its store (Upstash Redis REST API), and its dead letters.",
    '',
    'Usage: npm run gw -- <command> [options]',
    '',
  ];
  for (const group of groups) {
    lines.push(`${group[0]?.toUpperCase() ?? ''}${group.slice(1)}s`);
    for (const c of commands.filter((cmd) => cmd.name.startsWith(`${group} `))) lines.push(`  ${c.name} ${c.usage}`.trimEnd(), `      ${c.summary}`);
    lines.push('');
  }
  lines.push(`'npm run gw -- <command> --help' says more about a command.`, '', ...COMMON, '', ...VALUES, '', ...STORE, '', ...GATEWAY, '', ...EXIT);
  return lines.join('\n');
}

/** The commands of one group with their full usage lines. */
export function groupHelp(group: string, commands: readonly CommandInfo[]): string {
  const own = commands.filter((c) => c.name.startsWith(`${group} `));
  return ['Usage:', ...own.map((c) => `  npm run gw -- ${c.name} ${c.usage}`.trimEnd()), '', ...COMMON, '', ...VALUES].join('\n');
}

/** One command's usage, summary and details. */
export function commandHelp(command: CommandInfo): string {
  return [
    `Usage: npm run gw -- ${command.name} ${command.usage}`.trimEnd(),
    '',
    `${command.summary[0]?.toUpperCase() ?? ''}${command.summary.slice(1)}.`,
    ...(command.details ? ['', ...command.details] : []),
    '',
    ...COMMON,
    '',
    ...VALUES,
  ].join('\n');
}
