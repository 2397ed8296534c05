/**
 * `tenant …` commands: create, list, show, set-plan, set-overrides, set-callback-url, suspend and
 * resume. Validation of values happens here (one-line usage errors); the store work is in
 * tools/tenancy/.
 */
import type { TenantRecord } from '../../shared/contracts/tenancy';
import { effectivePlan, PRIORITIES, type TenantOverrides } from '../../shared/plans';
import { listKeys } from '../tenancy/keys';
import { createTenant, getTenant, listTenants, mergeOverrides, updateTenant, type TenantChange } from '../tenancy/tenants';
import type { TenancyStore } from '../tenancy/store';
import {
  optString,
  parseCallbackUrl,
  parseName,
  parsePlan,
  parsePositiveInt,
  parseTenantId,
  requireString,
  splitList,
  UsageError,
  type OptionValues,
} from './args';
import type { Command, CommandOutput } from './command';
import { formatTime, keysTable, keyView, limitsText, table, tenantText } from './format';

/** A tenant with its effective limits, as `--json` prints it (`allowedModels: null`: every routed model). */
function tenantData(tenant: TenantRecord) {
  const limits = effectivePlan(tenant.plan, tenant.overrides);
  return { tenant, limits: { ...limits, allowedModels: limits.allowedModels ?? null } };
}

/** Applies a change to a tenant and describes it with `done(after, before)`. */
async function change(
  store: TenancyStore,
  tenantId: string,
  what: TenantChange,
  done: (after: TenantRecord, before: TenantRecord) => string,
): Promise<CommandOutput> {
  const { before, after } = await updateTenant(store, parseTenantId(tenantId), what);
  return { text: done(after, before), data: tenantData(after) };
}

/** Numeric overrides: CLI option → field of TenantOverrides. */
const NUMERIC_OVERRIDES = {
  'requests-per-minute': 'requestsPerMinute',
  'requests-per-hour': 'requestsPerHour',
  'requests-per-day': 'requestsPerDay',
  'tokens-per-minute': 'tokensPerMinute',
  'tokens-per-day': 'tokensPerDay',
  'max-tokens': 'maxTokens',
  'monthly-budget-micros': 'monthlyBudgetMicros',
  'max-n': 'maxN',
} as const satisfies Record<string, keyof TenantOverrides>;

const ALL_OVERRIDES: Record<string, keyof TenantOverrides> = { ...NUMERIC_OVERRIDES, priority: 'priority', 'allowed-models': 'allowedModels' };

function overridesFrom(options: OptionValues): { set: TenantOverrides; unset: (keyof TenantOverrides)[]; clear: boolean } {
  const set: Record<string, unknown> = {};
  for (const [option, field] of Object.entries(NUMERIC_OVERRIDES)) {
    const value = optString(options, option);
    if (value !== undefined) set[field] = parsePositiveInt(value, option);
  }
  const priority = optString(options, 'priority');
  if (priority !== undefined) {
    if (!PRIORITIES.some((p) => p === priority)) throw new UsageError(`unknown priority '${priority}' (expected ${PRIORITIES.join(', ')})`);
    set.priority = priority;
  }
  const models = optString(options, 'allowed-models');
  if (models !== undefined) {
    const list = [...new Set(splitList(models))];
    if (list.length === 0) throw new UsageError('--allowed-models needs at least one model (use --unset allowed-models to allow every model)');
    set.allowedModels = list;
  }
  const unset = splitList(optString(options, 'unset') ?? '').map((name) => {
    const field = ALL_OVERRIDES[name];
    if (!field) throw new UsageError(`--unset: unknown override '${name}' (expected ${Object.keys(ALL_OVERRIDES).join(', ')})`);
    return field;
  });
  const clear = options.clear === true;
  if (Object.keys(set).length === 0 && unset.length === 0 && !clear) {
    throw new UsageError('nothing to change: give at least one override, --unset or --clear');
  }
  return { set: set as TenantOverrides, unset, clear };
}

const tenantId = ['TENANT_ID'] as const;

/** The `tenant` command group. */
export const tenantCommands: readonly Command[] = [
  {
    name: 'tenant create',
    usage: '--name NAME --plan PLAN [--id TENANT_ID] [--callback-url URL]',
    summary: 'create a tenant (active, no overrides)',
    details: ['--id defaults to ten_ and 20 random hex characters; an existing id is refused.'],
    positionals: [],
    options: { name: { type: 'string' }, plan: { type: 'string' }, id: { type: 'string' }, 'callback-url': { type: 'string' } },
    async run({ store, options, now }) {
      const id = optString(options, 'id');
      const url = optString(options, 'callback-url');
      const tenant = await createTenant(store, {
        name: parseName(requireString(options, 'name'), 'name', 128),
        plan: parsePlan(requireString(options, 'plan')),
        ...(id !== undefined ? { tenantId: parseTenantId(id) } : {}),
        ...(url !== undefined ? { callbackUrl: parseCallbackUrl(url) } : {}),
        now,
      });
      return { text: `Created tenant ${tenant.tenantId} (${tenant.name}, plan ${tenant.plan}).`, data: tenantData(tenant) };
    },
  },
  {
    name: 'tenant list',
    usage: '',
    summary: 'list every tenant',
    positionals: [],
    options: {},
    async run({ store }) {
      const { tenants, malformed } = await listTenants(store);
      const rows = tenants.map(({ tenant: t, keyCount }) => [t.tenantId, t.name, t.plan, t.status, String(keyCount), formatTime(t.createdAt)]);
      const text = tenants.length === 0 ? 'No tenants.' : table(['TENANT', 'NAME', 'PLAN', 'STATUS', 'KEYS', 'CREATED'], rows);
      const warning = malformed.length > 0 ? `\nMalformed records (not shown): ${malformed.join(', ')}` : '';
      return { text: text + warning, data: { tenants: tenants.map(({ tenant, keyCount }) => ({ ...tenant, keyCount })), malformed } };
    },
  },
  {
    name: 'tenant show',
    usage: 'TENANT_ID',
    summary: 'a tenant, its effective limits and its keys (never their secrets)',
    positionals: tenantId,
    options: {},
    async run({ store, args: [id = ''], now }) {
      const tenant = await getTenant(store, parseTenantId(id));
      const keys = (await listKeys(store, tenant.tenantId)).map((k) => keyView(k.record, now));
      const text = [tenantText(tenant), '', limitsText(tenant), '', `Keys (${keys.length})`, keysTable(keys, tenant.tenantId).replace(/^/gm, '  ')].join('\n');
      return { text, data: { ...tenantData(tenant), keys } };
    },
  },
  {
    name: 'tenant set-plan',
    usage: 'TENANT_ID PLAN',
    summary: 'move a tenant to another plan (overrides stay)',
    positionals: ['TENANT_ID', 'PLAN'],
    options: {},
    run: ({ store, args: [id = '', plan = ''] }) =>
      change(store, id, { plan: parsePlan(plan) }, (t, before) => `Tenant ${t.tenantId}: plan ${before.plan} → ${t.plan}.`),
  },
  {
    name: 'tenant set-overrides',
    usage: 'TENANT_ID [OVERRIDE …] [--unset NAME,…] [--clear]',
    summary: "change a tenant's limits over its plan",
    details: [
      'Overrides: --requests-per-minute N, --requests-per-hour N, --requests-per-day N, --tokens-per-minute N,',
      '  --tokens-per-day N, --max-tokens N, --max-n N, --priority low|standard|vip, --allowed-models MODEL,…,',
      '  --monthly-budget-micros N (spend per UTC month in millionths of the price table currency; plans have none)',
      'Given overrides are added or replaced; the others stay. --unset NAME,… removes the named ones',
      '(option names without --, e.g. --unset max-tokens,allowed-models); --clear removes all first.',
    ],
    positionals: tenantId,
    options: {
      ...Object.fromEntries(Object.keys(NUMERIC_OVERRIDES).map((o) => [o, { type: 'string' as const }])),
      priority: { type: 'string' },
      'allowed-models': { type: 'string' },
      unset: { type: 'string' },
      clear: { type: 'boolean' },
    },
    async run({ store, args: [id = ''], options }) {
      const requested = overridesFrom(options);
      // Merged inside the atomic update, so a concurrent change to another field is kept.
      const { after } = await updateTenant(store, parseTenantId(id), (current) => ({ overrides: mergeOverrides(current.overrides, requested) }));
      return { text: `Tenant ${after.tenantId}: overrides updated.\n\n${limitsText(after)}`, data: tenantData(after) };
    },
  },
  {
    name: 'tenant set-callback-url',
    usage: 'TENANT_ID (URL | --clear)',
    summary: 'set or remove where async job results are delivered',
    positionals: ['TENANT_ID', 'URL?'],
    options: { clear: { type: 'boolean' } },
    async run({ store, args, options }) {
      const [id = '', url] = args;
      if ((url === undefined) === (options.clear !== true)) throw new UsageError('give either a URL or --clear');
      const callbackUrl = url === undefined ? null : parseCallbackUrl(url);
      return change(store, id, { callbackUrl }, (t) => `Tenant ${t.tenantId}: callback URL ${t.callbackUrl ?? 'removed'}.`);
    },
  },
  {
    name: 'tenant suspend',
    usage: 'TENANT_ID',
    summary: 'suspend a tenant: every key of it is refused (403) until it is resumed',
    positionals: tenantId,
    options: {},
    run: ({ store, args: [id = ''] }) =>
      change(store, id, { status: 'suspended' }, (t, before) =>
        before.status === 'suspended'
          ? `Tenant ${t.tenantId} was already suspended.`
          : `Suspended tenant ${t.tenantId} (takes effect at the edge within 60 s).`,
      ),
  },
  {
    name: 'tenant resume',
    usage: 'TENANT_ID',
    summary: 'resume a suspended tenant',
    positionals: tenantId,
    options: {},
    run: ({ store, args: [id = ''] }) =>
      change(store, id, { status: 'active' }, (t, before) =>
        before.status === 'active' ? `Tenant ${t.tenantId} was already active.` : `Resumed tenant ${t.tenantId}.`,
      ),
  },
];
