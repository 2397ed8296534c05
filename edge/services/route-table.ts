/**
 * The route table: which backend (a Lambda adapter's Function URL) serves each model. Parsed from
 * the `ROUTE_TABLE` JSON setting of each environment.
 */
import * as z from 'zod';
import { ModelNameSchema } from '../../shared/contracts/infer';

export const BackendSchema = z.object({
  /** Stable name used in logs, metrics and the `X-Backend` header. */
  name: z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9-]*$/),
  /** The adapter's Function URL (origin, optionally with a base path). */
  url: z.url({ protocol: /^https?$/ }),
  kind: z.enum(['sagemaker', 'ecs']),
});

export const ModelRouteSchema = z.object({
  backends: z.array(BackendSchema).min(1),
});

export const RouteTableSchema = z.object({
  models: z.record(ModelNameSchema, ModelRouteSchema).refine((m) => Object.keys(m).length > 0, 'at least one model'),
});

export type Backend = z.infer<typeof BackendSchema>;
export type RouteTable = z.infer<typeof RouteTableSchema>;

/** The backend for a model, or undefined when the model is not routed. */
export function resolveBackend(table: RouteTable, model: string): Backend | undefined {
  return Object.hasOwn(table.models, model) ? table.models[model]?.backends[0] : undefined;
}
