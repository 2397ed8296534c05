/**
 * Webhook commands of the operator CLI: `tenant webhook-secret create|rotate|drop-previous
 * TENANT_ID`, the Standard Webhooks secret that signs a tenant's job-result deliveries (stored on
 * the tenant record, printed once). `rotate` puts a new secret first and keeps the current one, so
 * deliveries carry both signatures until `drop-previous` once the receiver has switched.
 */
import { storeKeys, type TenantRecord } from '../../shared/contracts/tenancy';
import { generateWebhookSecret } from '../../shared/crypto/hmac';
import { parseTenant } from '../tenancy/tenants';
import { TenancyError, updateJson } from '../tenancy/store';
import { parseTenantId, UsageError } from './args';
import type { Command } from './command';

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
