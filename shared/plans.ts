/**
 * Plans and their default limits (SPEC §3), and how a tenant's overrides combine with them. The edge
 * enforces the result; the operator CLI writes the overrides.
 */
import * as z from 'zod';

export const PLANS = ['free', 'pro', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

export const PRIORITIES = ['low', 'standard', 'vip'] as const;
export type Priority = (typeof PRIORITIES)[number];

const positiveInt = z.number().int().positive();

export const PlanLimitsSchema = z
  .object({
    requestsPerMinute: positiveInt,
    requestsPerHour: positiveInt,
    requestsPerDay: positiveInt,
    tokensPerMinute: positiveInt,
    tokensPerDay: positiveInt,
    /** Highest `max_tokens` a request may ask for. */
    maxTokens: positiveInt,
    /** Most choices (`n`) one chat request may ask for; the model's `max_n` may cap it lower. */
    maxN: z.number().int().min(1).max(16),
    priority: z.enum(PRIORITIES),
    /** Spend per UTC calendar month, micro-units of the price table's currency; absent: no budget. */
    monthlyBudgetMicros: positiveInt.optional(),
  })
  .strict();

export type PlanLimits = z.infer<typeof PlanLimitsSchema>;

/** The defaults of SPEC §3. */
export const PLAN_DEFAULTS: Readonly<Record<Plan, PlanLimits>> = {
  free: {
    requestsPerMinute: 60,
    requestsPerHour: 1_000,
    requestsPerDay: 10_000,
    tokensPerMinute: 50_000,
    tokensPerDay: 1_000_000,
    maxTokens: 512,
    maxN: 1,
    priority: 'low',
  },
  pro: {
    requestsPerMinute: 600,
    requestsPerHour: 50_000,
    requestsPerDay: 500_000,
    tokensPerMinute: 500_000,
    tokensPerDay: 10_000_000,
    maxTokens: 4_096,
    maxN: 4,
    priority: 'standard',
  },
  enterprise: {
    requestsPerMinute: 6_000,
    requestsPerHour: 500_000,
    requestsPerDay: 10_000_000,
    tokensPerMinute: 5_000_000,
    tokensPerDay: 100_000_000,
    maxTokens: 16_384,
    maxN: 8,
    priority: 'vip',
  },
};

/** Per-tenant overrides: any limit, plus the models the tenant may use (absent = every routed model). */
export const TenantOverridesSchema = PlanLimitsSchema.partial()
  .extend({ allowedModels: z.array(z.string().min(1).max(128)).max(256).optional() })
  .strict();

export type TenantOverrides = z.infer<typeof TenantOverridesSchema>;

export interface EffectivePlan extends PlanLimits {
  readonly plan: Plan;
  /** Undefined means every model in the route table. */
  readonly allowedModels: readonly string[] | undefined;
}

/** A plan's defaults with a tenant's overrides applied. */
export function effectivePlan(plan: Plan, overrides: TenantOverrides = {}): EffectivePlan {
  const { allowedModels, ...limits } = overrides;
  return { ...PLAN_DEFAULTS[plan], ...limits, plan, allowedModels };
}
