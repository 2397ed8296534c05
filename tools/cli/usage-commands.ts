/**
 * Usage commands, through the gateway's operator routes with the operator credential (as `dlq`):
 * - `usage [TENANT] --from … --to … [--by day|model|key]`: a tenant's usage as a table (the local
 *   stack's dev tenant when none is given);
 * - `usage export --from … --to … [--tenant ID]`: the raw records, each record_id once, NDJSON on
 *   stdout, for billing.
 * Dates are `YYYY-MM-DD` (whole UTC days) or ISO timestamps, UTC.
 */
import { parseUsageBound, USAGE_GROUPS, type UsageGroup, type UsageReport } from '../../shared/contracts/usage';
import { optString, parseTenantId, UsageError } from './args';
import type { StorelessCommand, StorelessInput } from './command';
import { table } from './format';
import { gatewayFetch, localTenant } from './operator-commands';

/** `--from`/`--to` as query parameters, checked here so a typo is a usage error, not a 400. */
function rangeQuery(input: StorelessInput, required: boolean): URLSearchParams {
  const query = new URLSearchParams();
  for (const [option, end] of [
    ['from', false],
    ['to', true],
  ] as const) {
    const value = optString(input.options, option);
    if (value === undefined) {
      if (required) throw new UsageError(`--${option} is required (YYYY-MM-DD or an ISO timestamp, UTC)`);
      continue;
    }
    if (parseUsageBound(value, end) === undefined) throw new UsageError(`--${option} '${value}': expected YYYY-MM-DD or an ISO timestamp (UTC)`);
    query.set(option, value);
  }
  return query;
}

/** Micro-units as currency units, 6 decimals. */
const money = (micros: number) => (micros / 1_000_000).toFixed(6);

/** The report as a table (`text`). */
export function usageTable(report: UsageReport): string {
  if (report.rows.length === 0) return `No usage for ${report.tenant_id} from ${report.from} to ${report.to}.`;
  const rows = report.rows.map((r) => [
    r.group || '—',
    String(r.requests),
    String(r.prompt_tokens),
    String(r.completion_tokens),
    String(r.cache_hits),
    money(r.cost_micros),
  ]);
  const header = [report.group_by.toUpperCase(), 'REQUESTS', 'TOKENS IN', 'TOKENS OUT', 'CACHE HITS', `COST (${report.currency})`];
  return `Usage of ${report.tenant_id}, ${report.from} to ${report.to}:\n\n${table(header, rows)}`;
}

export const usageCommands: readonly StorelessCommand[] = [
  {
    name: 'usage report',
    usage: '[TENANT_ID] [--from DATE] [--to DATE] [--by day|model|key] [--gateway URL]',
    summary: "a tenant's usage (requests, tokens, cache hits, cost) by day, model or key; `usage TENANT_ID …` for short",
    details: [
      'DATE: YYYY-MM-DD (the whole UTC day) or an ISO timestamp; default from the first of this month to now.',
      "Without TENANT_ID: the local stack's dev tenant. Needs the operator credential (GW_OPERATOR_TOKEN or the local stack).",
    ],
    storeless: true,
    positionals: ['TENANT_ID?'],
    options: { from: { type: 'string' }, to: { type: 'string' }, by: { type: 'string' }, gateway: { type: 'string' } },
    async run(input) {
      const by = optString(input.options, 'by') ?? 'day';
      if (!(USAGE_GROUPS as readonly string[]).includes(by)) throw new UsageError(`--by '${by}': expected ${USAGE_GROUPS.join(', ')}`);
      const given = input.args[0];
      const tenant = given !== undefined ? parseTenantId(given) : await localTenant(input);
      if (!tenant) throw new UsageError('usage: give a TENANT_ID (or start the local stack, whose dev tenant is the default)');
      const query = rangeQuery(input, false);
      query.set('group_by', by as UsageGroup);
      query.set('tenant', tenant);
      const report = (await (await gatewayFetch(input, 'GET', `/v1/usage?${query}`)).json()) as UsageReport;
      return { text: usageTable(report), data: report };
    },
  },
  {
    name: 'usage export',
    usage: '--from DATE --to DATE [--tenant TENANT_ID] [--gateway URL]',
    summary: 'the raw usage records of a range as NDJSON on stdout, each record once (for billing)',
    details: ['DATE: YYYY-MM-DD (the whole UTC day) or an ISO timestamp, UTC. Every tenant unless --tenant.'],
    storeless: true,
    positionals: [],
    options: { from: { type: 'string' }, to: { type: 'string' }, tenant: { type: 'string' }, gateway: { type: 'string' } },
    async run(input) {
      const query = rangeQuery(input, true);
      const tenant = optString(input.options, 'tenant');
      if (tenant !== undefined) query.set('tenant', parseTenantId(tenant));
      const text = await (await gatewayFetch(input, 'GET', `/v1/admin/usage/export?${query}`)).text();
      const records = text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as unknown);
      return { text: text.replace(/\n$/, ''), data: records };
    },
  },
];
