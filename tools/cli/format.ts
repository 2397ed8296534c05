/**
 * Human-readable output of the CLI: aligned tables, timestamps, tenant and key views. The JSON
 * output (`--json`) uses the view objects as they are.
 */
import type { ApiKeyRecord, TenantRecord } from '../../shared/contracts/tenancy';
import { effectivePlan, type EffectivePlan } from '../../shared/plans';
import { keyModeOf, keyState, type KeyState } from '../tenancy/keys';

/** A key as the CLI shows it: the stored record (never a secret) with its mode and current state. */
export interface KeyView extends ApiKeyRecord {
  readonly mode: 'live' | 'test' | 'unknown';
  readonly state: KeyState;
}

/** The view of a stored key at `now`. */
export function keyView(record: ApiKeyRecord, now: number): KeyView {
  return { ...record, mode: keyModeOf(record.keyId) ?? 'unknown', state: keyState(record, now) };
}

/** A timestamp (ms) as `2025-01-31 14:05:09 UTC`, or `—`. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return '—';
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** A table of keys, or a sentence when there are none. */
export function keysTable(keys: readonly KeyView[], tenantId: string): string {
  if (keys.length === 0) return `No keys for tenant ${tenantId}.`;
  return table(
    ['KEY ID', 'NAME', 'MODE', 'SCOPES', 'STATE', 'CREATED', 'EXPIRES'],
    keys.map((k) => [k.keyId, k.name ?? '—', k.mode, k.scopes.join(','), k.state, formatTime(k.createdAt), formatTime(k.expiresAt)]),
  );
}

const LIMIT_ROWS: readonly [keyof EffectivePlan & keyof TenantRecord['overrides'], string][] = [
  ['requestsPerMinute', 'requests/minute'],
  ['requestsPerHour', 'requests/hour'],
  ['requestsPerDay', 'requests/day'],
  ['tokensPerMinute', 'tokens/minute'],
  ['tokensPerDay', 'tokens/day'],
  ['maxTokens', 'max_tokens'],
  ['maxN', 'n'],
  ['priority', 'priority'],
  ['monthlyBudgetMicros', 'budget/month µ'],
];

/** The tenant's effective limits, overridden ones marked with `*`. */
export function limitsText(tenant: TenantRecord): string {
  const limits = effectivePlan(tenant.plan, tenant.overrides);
  const mark = (overridden: boolean) => (overridden ? ' *' : '');
  const rows = LIMIT_ROWS.map(([field, label]) => {
    const value = limits[field];
    const shown = typeof value === 'number' ? value.toLocaleString('en-US') : (value ?? 'none');
    return `  ${label.padEnd(16)} ${shown}${mark(tenant.overrides[field] !== undefined)}`;
  });
  const models = limits.allowedModels ? limits.allowedModels.join(', ') || '(none)' : 'every routed model';
  rows.push(`  ${'models'.padEnd(16)} ${models}${mark(limits.allowedModels !== undefined)}`);
  return [`Limits (plan ${tenant.plan}; * = tenant override)`, ...rows].join('\n');
}

/** The tenant's record as labelled lines. */
export function tenantText(tenant: TenantRecord): string {
  return [
    `Tenant    ${tenant.tenantId}`,
    `Name      ${tenant.name}`,
    `Plan      ${tenant.plan}`,
    `Status    ${tenant.status}`,
    `Callback  ${tenant.callbackUrl ?? '—'}`,
    `Created   ${formatTime(tenant.createdAt)}`,
  ].join('\n');
}

/** The secret, framed so it cannot be missed, with the once-only warning. */
export function secretText(key: string): string {
  return `\n  ${key}\n\nThis is the only time the key is shown: store it now. Only its SHA-256 is kept.`;
}
