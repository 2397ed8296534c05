/**
 * Operator commands of the CLI, which never touch the store:
 * - `operator token`: a new operator credential (`gw_op_…`) for the edge's `OPERATOR_TOKEN` secret,
 *   printed once. No API key can ever be one (another prefix), and the edge never stores it.
 * - `dlq list [--tenant ID]` and `dlq redrive (ID | --all)`: every tenant's dead letters (and the
 *   webhook events', which belong to no tenant), through the gateway's operator routes with the
 *   operator credential (GW_OPERATOR_TOKEN; the gateway from --gateway or GW_GATEWAY_URL; both
 *   default to the running local stack's stack.json, which `npm start` writes). Redrive
 *   re-enqueues on the Worker, since Cloudflare Queues can only be written from a Worker binding.
 */
import { readFile } from 'node:fs/promises';
import { OPERATOR_TOKEN_PATTERN } from '../../shared/contracts/tenancy';
import { generateOperatorToken } from '../tenancy/keys';
import { optString, parseTenantId, UsageError } from './args';
import type { StorelessCommand, StorelessInput } from './command';
import { stackJsonPath } from './connection';
import { formatTime, table } from './format';

/** Each call to the gateway gives up after this long. */
const GATEWAY_TIMEOUT_MS = 30_000;

/** The gateway refused or failed a call, or could not be reached: the CLI prints the reason and exits 1. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    /** `NOT_FOUND`, `DENIED` (401/403), `FAILED` (any other status) or `UNAVAILABLE` (no answer). */
    readonly code: 'NOT_FOUND' | 'DENIED' | 'FAILED' | 'UNAVAILABLE',
    message: string,
  ) {
    super(message);
  }
}

interface Gateway {
  readonly url: string;
  readonly token: string;
  readonly fetch: typeof fetch;
}

async function localStack(env: Readonly<Record<string, string | undefined>>): Promise<{ gatewayUrl?: unknown; operatorToken?: unknown }> {
  return readFile(stackJsonPath(env), 'utf8')
    .then((t) => JSON.parse(t) as { gatewayUrl?: unknown; operatorToken?: unknown })
    .catch(() => ({}));
}

/** The gateway and the operator credential, from options, the environment, or the local stack. */
async function gateway(input: StorelessInput): Promise<Gateway> {
  const env = input.env ?? {};
  const stack = await localStack(env);
  const token = env.GW_OPERATOR_TOKEN?.trim() || (typeof stack.operatorToken === 'string' ? stack.operatorToken : undefined);
  if (!token)
    throw new UsageError(
      "set GW_OPERATOR_TOKEN to the gateway's operator credential (its OPERATOR_TOKEN secret; npm run gw -- operator token makes one), or start the local stack (npm start)",
    );
  if (!OPERATOR_TOKEN_PATTERN.test(token))
    throw new UsageError('GW_OPERATOR_TOKEN is not an operator credential (gw_op_…); an API key never is one, whatever its scopes');
  const url = optString(input.options, 'gateway') ?? (env.GW_GATEWAY_URL?.trim() || (typeof stack.gatewayUrl === 'string' ? stack.gatewayUrl : undefined));
  if (!url || !/^https?:\/\//.test(url)) throw new UsageError('no gateway: pass --gateway URL or set GW_GATEWAY_URL (or start the local stack)');
  return { url: url.replace(/\/+$/, ''), token, fetch: input.fetch ?? fetch };
}

/** One call to the gateway with the operator credential; a refusal or no answer is a {@link GatewayError}. */
export async function gatewayFetch(input: StorelessInput, method: string, path: string, body?: unknown): Promise<Response> {
  const gw = await gateway(input);
  let res: Response;
  try {
    res = await gw.fetch(`${gw.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${gw.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(GATEWAY_TIMEOUT_MS),
    });
  } catch (err) {
    const why =
      err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError') ? `no answer within ${GATEWAY_TIMEOUT_MS} ms` : 'unreachable';
    throw new GatewayError('UNAVAILABLE', `the gateway at ${gw.url} is ${why}`);
  }
  if (!res.ok) {
    const json = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    const code = res.status === 404 ? 'NOT_FOUND' : res.status === 401 || res.status === 403 ? 'DENIED' : 'FAILED';
    throw new GatewayError(code, `the gateway answered ${res.status}: ${json?.error?.message ?? 'no details'}`);
  }
  return res;
}

async function callGateway(input: StorelessInput, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await gatewayFetch(input, method, path, body);
  return res.json().catch(() => null);
}

/** The local stack's dev tenant (stack.json), when it runs. */
export async function localTenant(input: StorelessInput): Promise<string | undefined> {
  const stack = (await localStack(input.env ?? {})) as { tenantId?: unknown };
  return typeof stack.tenantId === 'string' ? stack.tenantId : undefined;
}

interface Letter {
  readonly id: string;
  readonly tenantId?: string;
  readonly reason: string;
  readonly attempts: number;
  readonly failedAt: number;
  readonly original: { readonly kind: string; readonly source?: string; readonly jobId?: string; readonly event?: { readonly id: string } };
}

/** `operator token`, `dlq list`, `dlq redrive`. */
export const operatorCommands: readonly StorelessCommand[] = [
  {
    name: 'operator token',
    usage: '',
    summary: "a new operator credential for the edge's OPERATOR_TOKEN secret; prints it once",
    details: [
      'Store it as the edge secret (npx wrangler secret put OPERATOR_TOKEN --env ENV) and give it to this',
      "CLI as GW_OPERATOR_TOKEN. It opens every tenant's dead letters; no API key is ever accepted in its place.",
      'npm start configures a fresh one for the local stack by itself.',
    ],
    storeless: true,
    positionals: [],
    options: {},
    async run() {
      const token = generateOperatorToken();
      const text = `New operator credential:\n\n  ${token}\n\nShown once. Set it as the edge's OPERATOR_TOKEN secret (npx wrangler secret put OPERATOR_TOKEN --env ENV)\nand as GW_OPERATOR_TOKEN where you run npm run gw -- dlq …`;
      return { text, data: { operatorToken: token } };
    },
  },
  {
    name: 'dlq list',
    usage: '[--tenant TENANT_ID] [--gateway URL]',
    summary: "every tenant's dead letters: webhook forwards, jobs and deliveries that exhausted their attempts",
    details: ['Webhook events belong to no tenant (TENANT —). Needs the operator credential (GW_OPERATOR_TOKEN or the local stack).'],
    storeless: true,
    positionals: [],
    options: { tenant: { type: 'string' }, gateway: { type: 'string' } },
    async run(input) {
      const tenant = optString(input.options, 'tenant');
      const query = tenant === undefined ? '' : `?tenant=${encodeURIComponent(parseTenantId(tenant))}`;
      const { dead_letters: letters } = (await callGateway(input, 'GET', `/v1/operator/dlq${query}`)) as { dead_letters: Letter[] };
      const rows = letters.map((l) => [
        l.id,
        l.tenantId ?? '—',
        l.original.kind,
        l.original.event?.id ?? l.original.jobId ?? '—',
        String(l.attempts),
        formatTime(l.failedAt),
        l.reason.slice(0, 60),
      ]);
      return {
        text: letters.length === 0 ? 'No dead letters.' : table(['ID', 'TENANT', 'KIND', 'SUBJECT', 'ATTEMPTS', 'FAILED', 'REASON'], rows),
        data: { deadLetters: letters },
      };
    },
  },
  {
    name: 'dlq redrive',
    usage: '(ID | --all) [--gateway URL]',
    summary: 'put dead letters back on the queues they came from',
    details: ['When ID is not a dead letter (any more), nothing is redriven and the exit status is 1.'],
    storeless: true,
    positionals: ['ID?'],
    options: { all: { type: 'boolean' }, gateway: { type: 'string' } },
    async run(input) {
      const all = input.options.all === true;
      if (all === input.args.length > 0) throw new UsageError('give either an ID or --all');
      const result = (await callGateway(input, 'POST', '/v1/operator/dlq/redrive', all ? { all: true } : { ids: input.args })) as { redriven: string[] };
      return { text: `Redrove ${result.redriven.length} dead letter(s).`, data: result };
    },
  },
];
