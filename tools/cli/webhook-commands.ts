/**
 * Webhook commands of the operator CLI:
 * - `tenant webhook-secret create|rotate|drop-previous TENANT_ID`: the Standard Webhooks secret that
 *   signs a tenant's job-result deliveries (stored on the tenant record, printed once). `rotate` puts
 *   a new secret first and keeps the current one, so deliveries carry both signatures until
 *   `drop-previous` once the receiver has switched.
 * - `dlq list` and `dlq redrive (ID | --all)`: the dead letters the edge's DLQ consumer recorded,
 *   through the gateway's admin routes (GW_ADMIN_KEY, a key with the `admin` scope; the gateway from
 *   --gateway, GW_GATEWAY_URL, or the running local stack's stack.json). Redrive re-enqueues on the
 *   Worker, since Cloudflare Queues can only be written from a Worker binding.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { storeKeys, type TenantRecord } from '../../shared/contracts/tenancy';
import { generateWebhookSecret } from '../../shared/crypto/hmac';
import { parseTenant } from '../tenancy/tenants';
import { TenancyError, updateJson } from '../tenancy/store';
import { optString, parseTenantId, UsageError } from './args';
import type { Command, CommandInput } from './command';
import { formatTime, table } from './format';

const ACTIONS = ['create', 'rotate', 'drop-previous'] as const;

function nextSecrets(action: (typeof ACTIONS)[number], current: readonly string[], fresh: string, tenantId: string): string[] {
  if (action === 'create') {
    if (current.length > 0) throw new TenancyError('CONFLICT', `tenant ${tenantId} already has a webhook secret (use rotate)`);
    return [fresh];
  }
  if (action === 'rotate') {
    if (current.length === 0) throw new TenancyError('NOT_FOUND', `tenant ${tenantId} has no webhook secret yet (use create)`);
    return [fresh, current[0] ?? fresh];
  }
  if (current.length < 2) throw new TenancyError('CONFLICT', `tenant ${tenantId} has no previous webhook secret`);
  return [current[0] ?? ''];
}

/** `tenant webhook-secret …`. */
export const webhookSecretCommands: readonly Command[] = [
  {
    name: 'tenant webhook-secret',
    usage: `(${ACTIONS.join(' | ')}) TENANT_ID`,
    summary: "create or rotate the secret that signs a tenant's job-result webhooks; prints it once",
    details: [
      'create: the first secret. rotate: a new secret signs first, the current one still signs too',
      '(receivers verify either) until drop-previous. Deliveries use Standard Webhooks headers.',
    ],
    positionals: ['ACTION', 'TENANT_ID'],
    options: {},
    async run({ store, args: [action = '', id = ''] }) {
      const act = ACTIONS.find((a) => a === action);
      if (!act) throw new UsageError(`unknown action '${action}' (expected ${ACTIONS.join(', ')})`);
      const tenantId = parseTenantId(id);
      const fresh = generateWebhookSecret();
      const result = await updateJson<TenantRecord>(
        store,
        storeKeys.tenant(tenantId),
        (raw) => parseTenant(raw, tenantId),
        (current) => ({
          ...current,
          webhookSecrets: nextSecrets(act, current.webhookSecrets ?? [], fresh, tenantId),
        }),
      );
      if (!result) throw new TenancyError('NOT_FOUND', `no tenant ${tenantId}`);
      const count = result.after.webhookSecrets?.length ?? 0;
      if (act === 'drop-previous')
        return { text: `Tenant ${tenantId}: previous webhook secret removed; 1 secret signs deliveries.`, data: { tenantId, secrets: count } };
      const text = `Tenant ${tenantId}: ${act === 'create' ? 'webhook secret created' : `webhook secret rotated (${count} secrets sign deliveries until drop-previous)`}.\n\n  ${fresh}\n\nShown once: configure it in the receiver's Standard Webhooks verifier.`;
      return { text, data: { tenantId, webhookSecret: fresh, secrets: count } };
    },
  },
];

async function gateway(input: CommandInput): Promise<{ url: string; key: string; fetch: typeof fetch }> {
  const env = input.env ?? {};
  const key = env.GW_ADMIN_KEY?.trim();
  if (!key) throw new UsageError('set GW_ADMIN_KEY to an API key with the admin scope (npm run gw -- key create TENANT --scopes admin)');
  let url = optString(input.options, 'gateway') ?? env.GW_GATEWAY_URL?.trim();
  if (!url) {
    const path = join(env.STACK_STATE_DIR || '.local', 'stack.json');
    const info = await readFile(path, 'utf8')
      .then((t) => JSON.parse(t) as { gatewayUrl?: string })
      .catch(() => ({ gatewayUrl: undefined }));
    url = info.gatewayUrl;
  }
  if (!url || !/^https?:\/\//.test(url)) throw new UsageError('no gateway: pass --gateway URL or set GW_GATEWAY_URL (or start the local stack)');
  return { url: url.replace(/\/+$/, ''), key, fetch: input.fetch ?? fetch };
}

async function callGateway(input: CommandInput, method: string, path: string, body?: unknown): Promise<unknown> {
  const gw = await gateway(input);
  const res = await gw.fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${gw.key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const json = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (!res.ok)
    throw new TenancyError(res.status === 404 ? 'NOT_FOUND' : 'CONFLICT', `the gateway answered ${res.status}: ${json?.error?.message ?? 'no details'}`);
  return json;
}

interface Letter {
  readonly id: string;
  readonly reason: string;
  readonly attempts: number;
  readonly failedAt: number;
  readonly original: { readonly kind: string; readonly source?: string; readonly jobId?: string; readonly event?: { readonly id: string } };
}

/** `dlq …`. */
export const dlqCommands: readonly Command[] = [
  {
    name: 'dlq list',
    usage: '[--gateway URL]',
    summary: 'dead letters: webhook forwards, jobs and deliveries that exhausted their attempts',
    positionals: [],
    options: { gateway: { type: 'string' } },
    async run(input) {
      const { dead_letters: letters } = (await callGateway(input, 'GET', '/v1/admin/dlq')) as { dead_letters: Letter[] };
      const rows = letters.map((l) => [
        l.id,
        l.original.kind,
        l.original.event?.id ?? l.original.jobId ?? '—',
        String(l.attempts),
        formatTime(l.failedAt),
        l.reason.slice(0, 60),
      ]);
      return {
        text: letters.length === 0 ? 'No dead letters.' : table(['ID', 'KIND', 'SUBJECT', 'ATTEMPTS', 'FAILED', 'REASON'], rows),
        data: { deadLetters: letters },
      };
    },
  },
  {
    name: 'dlq redrive',
    usage: '(ID | --all) [--gateway URL]',
    summary: 'put dead letters back on the queues they came from',
    positionals: ['ID?'],
    options: { all: { type: 'boolean' }, gateway: { type: 'string' } },
    async run(input) {
      const all = input.options.all === true;
      if (all === input.args.length > 0) throw new UsageError('give either an ID or --all');
      const result = (await callGateway(input, 'POST', '/v1/admin/dlq/redrive', all ? { all: true } : { ids: input.args })) as {
        redriven: string[];
        missing: string[];
      };
      const missing = result.missing.length > 0 ? ` Not found: ${result.missing.join(', ')}.` : '';
      return { text: `Redrove ${result.redriven.length} dead letter(s).${missing}`, data: result };
    },
  },
];
