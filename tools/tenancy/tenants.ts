/**
 * Tenant records in the store: create, read, list and update (plan, overrides, status, callback
 * URL). Writes exactly what the edge reads (shared/contracts/tenancy.ts); every update is an atomic
 * compare-and-set so two operators cannot silently undo each other's change.
 */
import { randomUUID } from 'node:crypto';
import { storeKeys, TenantRecordSchema, TENANT_ID_PATTERN, type Plan, type TenantRecord } from '../../shared/contracts/tenancy';
import { TenantOverridesSchema, type TenantOverrides } from '../../shared/plans';
import { fromStored, TenancyError, toStored, updateJson, type TenancyStore } from './store';

/** Input of {@link createTenant}. */
export interface NewTenant {
  readonly name: string;
  readonly plan: Plan;
  /** Default: `ten_` + 20 random hex characters. */
  readonly tenantId?: string;
  readonly callbackUrl?: string;
  readonly now?: number;
  /** Overwrite an existing tenant of this id (the local stack's seed); default: fail with CONFLICT. */
  readonly replace?: boolean;
}

/** A new tenant id: `ten_` and 80 random bits in hex. */
export function generateTenantId(): string {
  return `ten_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

/** Parses a stored tenant, or throws INVALID naming the tenant. */
export function parseTenant(raw: unknown, tenantId: string): TenantRecord {
  const parsed = TenantRecordSchema.safeParse(raw);
  if (!parsed.success) throw new TenancyError('MALFORMED', `the stored record of tenant ${tenantId} is malformed`);
  return parsed.data;
}

/** Creates a tenant (active, no overrides) and adds it to the tenant set. */
export async function createTenant(store: TenancyStore, input: NewTenant): Promise<TenantRecord> {
  const candidate = {
    tenantId: input.tenantId ?? generateTenantId(),
    name: input.name,
    plan: input.plan,
    status: 'active',
    overrides: {},
    ...(input.callbackUrl !== undefined ? { callbackUrl: input.callbackUrl } : {}),
    createdAt: input.now ?? Date.now(),
  };
  const parsed = TenantRecordSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TenancyError('INVALID', `invalid tenant: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  const record = parsed.data;
  const tx = store.multi();
  tx.set(storeKeys.tenant(record.tenantId), toStored(record), input.replace ? {} : { nx: true });
  tx.sadd(storeKeys.tenants(), record.tenantId);
  const [written] = await tx.exec<[string | null, number]>();
  if (written === null) throw new TenancyError('CONFLICT', `tenant ${record.tenantId} already exists`);
  return record;
}

/** The tenant with this id, or null. */
export async function findTenant(store: TenancyStore, tenantId: string): Promise<TenantRecord | null> {
  if (!TENANT_ID_PATTERN.test(tenantId)) return null;
  const raw = await store.get<unknown>(storeKeys.tenant(tenantId));
  return raw === null ? null : parseTenant(fromStored(raw), tenantId);
}

/** The tenant with this id; throws NOT_FOUND when there is none. */
export async function getTenant(store: TenancyStore, tenantId: string): Promise<TenantRecord> {
  const tenant = await findTenant(store, tenantId);
  if (!tenant) throw new TenancyError('NOT_FOUND', `no tenant ${tenantId}`);
  return tenant;
}

/** A tenant in a listing, with the number of keys it has (any status). */
export interface TenantSummary {
  readonly tenant: TenantRecord;
  readonly keyCount: number;
}

/** Every tenant, oldest first; records that do not parse are reported in `malformed`. */
export async function listTenants(store: TenancyStore): Promise<{ tenants: TenantSummary[]; malformed: string[] }> {
  const ids = (await store.smembers(storeKeys.tenants())).map(String).sort();
  const tenants: TenantSummary[] = [];
  const malformed: string[] = [];
  for (let i = 0; i < ids.length; i += 100) {
    const chunk = ids.slice(i, i + 100);
    const batch = store.pipeline();
    for (const id of chunk) batch.get(storeKeys.tenant(id));
    for (const id of chunk) batch.scard(storeKeys.tenantKeys(id));
    const results = await batch.exec<unknown[]>();
    chunk.forEach((id, j) => {
      const raw = results[j];
      if (raw === null || raw === undefined) return;
      const parsed = TenantRecordSchema.safeParse(fromStored(raw));
      if (parsed.success) tenants.push({ tenant: parsed.data, keyCount: Number(results[chunk.length + j] ?? 0) });
      else malformed.push(id);
    });
  }
  tenants.sort((a, b) => a.tenant.createdAt - b.tenant.createdAt || a.tenant.tenantId.localeCompare(b.tenant.tenantId));
  return { tenants, malformed };
}

/** A change to a tenant's record. */
export interface TenantChange {
  readonly plan?: Plan;
  readonly status?: TenantRecord['status'];
  /** The complete new overrides (see {@link mergeOverrides}). */
  readonly overrides?: TenantOverrides;
  /** A URL, or null to remove it. */
  readonly callbackUrl?: string | null;
  readonly name?: string;
}

/**
 * Applies a change atomically and returns the record before and after; NOT_FOUND for no tenant.
 * A function is called with the current record (again on a retry) to derive the change from it.
 */
export async function updateTenant(
  store: TenancyStore,
  tenantId: string,
  change: TenantChange | ((current: TenantRecord) => TenantChange),
): Promise<{ before: TenantRecord; after: TenantRecord }> {
  const result = await updateJson(
    store,
    storeKeys.tenant(tenantId),
    (raw) => parseTenant(raw, tenantId),
    (current) => {
      const { callbackUrl, ...fields } = typeof change === 'function' ? change(current) : change;
      const next: Record<string, unknown> = { ...current };
      for (const [field, value] of Object.entries(fields)) if (value !== undefined) next[field] = value;
      if (callbackUrl === null) delete next.callbackUrl;
      else if (callbackUrl !== undefined) next.callbackUrl = callbackUrl;
      const parsed = TenantRecordSchema.safeParse(next);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new TenancyError('INVALID', `invalid change: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
      }
      return parsed.data;
    },
  );
  if (!result) throw new TenancyError('NOT_FOUND', `no tenant ${tenantId}`);
  return result;
}

/**
 * A tenant's overrides after a change: `clear` drops every override first, `unset` drops the named
 * ones, `set` adds or replaces. The result is validated against the shared schema.
 */
export function mergeOverrides(
  current: TenantOverrides,
  change: { readonly set?: TenantOverrides; readonly unset?: readonly (keyof TenantOverrides)[]; readonly clear?: boolean },
): TenantOverrides {
  const next: Record<string, unknown> = change.clear ? {} : { ...current };
  for (const field of change.unset ?? []) delete next[field];
  Object.assign(next, change.set ?? {});
  const parsed = TenantOverridesSchema.safeParse(next);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TenancyError('INVALID', `invalid override ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
  }
  return parsed.data;
}
