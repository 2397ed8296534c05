/**
 * `key …` commands: create, list, rotate and revoke. A new key's secret is printed once (text or
 * `--json`), never stored and never shown again; listings show ids, names, scopes and states.
 */
import { createApiKey, listKeys, revokeKey, rotateKey } from '../tenancy/keys';
import { getTenant } from '../tenancy/tenants';
import { optString, parseDuration, parseKeyId, parseMode, parseName, parseScopes, parseTenantId } from './args';
import type { Command } from './command';
import { formatTime, keysTable, keyView, secretText } from './format';

const DEFAULT_GRACE = '24h';
const DEFAULT_SCOPES = 'infer';

const expiry = (ms: number | undefined) => (ms === undefined ? 'never' : formatTime(ms));

/** The `key` command group. */
export const keyCommands: readonly Command[] = [
  {
    name: 'key create',
    usage: 'TENANT_ID [--mode live|test] [--scopes SCOPE,…] [--expires-in DURATION] [--name NAME]',
    summary: 'create an API key for a tenant; prints the key once',
    details: [`Defaults: --mode test, --scopes ${DEFAULT_SCOPES}, no expiry.`],
    positionals: ['TENANT_ID'],
    options: { mode: { type: 'string' }, scopes: { type: 'string' }, 'expires-in': { type: 'string' }, name: { type: 'string' } },
    async run({ store, args: [id = ''], options, now }) {
      const mode = parseMode(optString(options, 'mode') ?? 'test');
      const scopes = parseScopes(optString(options, 'scopes') ?? DEFAULT_SCOPES);
      const expiresIn = optString(options, 'expires-in');
      const expiresAt = expiresIn === undefined ? undefined : now + parseDuration(expiresIn, 'expires-in');
      const name = optString(options, 'name');
      const tenant = await getTenant(store, parseTenantId(id));
      const { key, record } = await createApiKey(store, {
        tenant,
        mode,
        scopes,
        ...(name !== undefined ? { name: parseName(name, 'name', 64) } : {}),
        ...(expiresAt !== undefined ? { expiresAt } : {}),
        now,
      });
      const suspended = tenant.status === 'suspended' ? `\nNote: tenant ${tenant.tenantId} is suspended; the key works once it is resumed.` : '';
      const text =
        `Created key ${record.keyId} for tenant ${tenant.tenantId} (${mode}, scopes ${record.scopes.join(',')}, ` +
        `expires ${expiry(expiresAt)}).\n${secretText(key)}${suspended}`;
      return { text, data: { apiKey: key, key: keyView(record, now) } };
    },
  },
  {
    name: 'key list',
    usage: 'TENANT_ID',
    summary: "a tenant's keys (never their secrets)",
    positionals: ['TENANT_ID'],
    options: {},
    async run({ store, args: [id = ''], now }) {
      const tenant = await getTenant(store, parseTenantId(id));
      const keys = (await listKeys(store, tenant.tenantId)).map((k) => keyView(k.record, now));
      return { text: keysTable(keys, tenant.tenantId), data: { tenantId: tenant.tenantId, keys } };
    },
  },
  {
    name: 'key rotate',
    usage: 'KEY_ID [--grace DURATION] [--expires-in DURATION] [--mode live|test]',
    summary: 'issue a replacement key (same tenant, name, scopes); the old one expires after the grace',
    details: [
      `--grace defaults to ${DEFAULT_GRACE} (0 ends the old key now; an earlier expiry it already has is kept).`,
      "--expires-in sets the new key's expiry (default none); --mode defaults to the old key's.",
    ],
    positionals: ['KEY_ID'],
    options: { grace: { type: 'string' }, 'expires-in': { type: 'string' }, mode: { type: 'string' } },
    async run({ store, args: [id = ''], options, now }) {
      const keyId = parseKeyId(id);
      const graceMs = parseDuration(optString(options, 'grace') ?? DEFAULT_GRACE, 'grace', { allowZero: true });
      const expiresIn = optString(options, 'expires-in');
      const mode = optString(options, 'mode');
      const { created, previous } = await rotateKey(store, keyId, {
        graceMs,
        now,
        ...(mode !== undefined ? { mode: parseMode(mode) } : {}),
        ...(expiresIn !== undefined ? { expiresAt: now + parseDuration(expiresIn, 'expires-in') } : {}),
      });
      const text =
        `Rotated ${previous.keyId}: it stops working at ${formatTime(previous.expiresAt)}.\n` +
        `New key ${created.record.keyId} for tenant ${created.record.tenantId} (scopes ${created.record.scopes.join(',')}, ` +
        `expires ${expiry(created.record.expiresAt)}).\n${secretText(created.key)}`;
      return { text, data: { apiKey: created.key, key: keyView(created.record, now), previous: keyView(previous, now) } };
    },
  },
  {
    name: 'key revoke',
    usage: 'KEY_ID',
    summary: 'revoke a key now (refused at every edge location within 60 s)',
    positionals: ['KEY_ID'],
    options: {},
    async run({ store, args: [id = ''], now }) {
      const keyId = parseKeyId(id);
      const { record, alreadyRevoked } = await revokeKey(store, keyId, now);
      const text = alreadyRevoked
        ? `Key ${keyId} was already revoked (at ${formatTime(record.revokedAt)}).`
        : `Revoked key ${keyId} of tenant ${record.tenantId} (refused at every edge location within 60 s).`;
      return { text, data: { key: keyView(record, now), alreadyRevoked } };
    },
  },
];
