/**
 * The edge's typed environment: Worker bindings in, one parsed config out. Config is parsed with
 * zod once per isolate (memoised on the bindings object) and fails with a message naming the
 * missing or malformed setting, never with an `undefined` deep inside a request.
 */
import * as z from 'zod';
import type { RequestIdVariables } from './middleware/request-id';
import type { AuthVariables } from './middleware/auth';
import { RouteTableSchema } from './services/route-table';

/** Raw Worker bindings: `[vars]` in wrangler.toml, secrets, and `--var` flags of `wrangler dev`. */
export interface Bindings {
  ENVIRONMENT?: string;
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  ROUTE_TABLE?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  AWS_SESSION_TOKEN?: string;
  AWS_REGION?: string;
  MAX_BODY_BYTES?: string;
  BACKEND_TIMEOUT_MS?: string;
  /** Comma-separated origins allowed by CORS (`*` for any); empty: no CORS headers. */
  CORS_ORIGINS?: string;
  /** Optional JWT mode: bearer JWTs from this OIDC issuer, verified against its JWKS. */
  JWT_ISSUER?: string;
  JWT_AUDIENCE?: string;
  JWT_JWKS_URL?: string;
}

const jsonString = z.string().transform((text, ctx) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
    return z.NEVER;
  }
});

/** JWT mode: which issuer, audience and JWKS to trust. Claims: see edge/services/jwt.ts. */
export const JwtConfigSchema = z.object({
  issuer: z.url(),
  audience: z.string().min(1),
  jwksUrl: z.url({ protocol: /^https?$/ }),
});

export type JwtConfig = z.infer<typeof JwtConfigSchema>;

const ConfigSchema = z.object({
  environment: z.string().min(1).default('local'),
  store: z.object({
    url: z.url({ protocol: /^https?$/ }),
    token: z.string().min(1),
  }),
  routes: jsonString.pipe(RouteTableSchema),
  aws: z.object({
    accessKeyId: z.string().min(1),
    secretAccessKey: z.string().min(1),
    sessionToken: z.string().min(1).optional(),
    region: z.string().min(1).default('us-east-1'),
  }),
  maxBodyBytes: z.coerce.number().int().positive().default(1024 * 1024),
  backendTimeoutMs: z.coerce.number().int().positive().default(30_000),
  corsOrigins: z
    .string()
    .default('')
    .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean)),
  jwt: JwtConfigSchema.optional(),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Raised when the bindings do not form a valid config; the message names each bad setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

// One parse per bindings object: workerd hands the same env to every request of an isolate.
const parsed = new WeakMap<Bindings, Config>();

/** Parses (once) and returns the config for these bindings. */
export function getConfig(env: Bindings): Config {
  const cached = parsed.get(env);
  if (cached) return cached;
  const result = ConfigSchema.safeParse({
    environment: env.ENVIRONMENT,
    store: { url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN },
    routes: env.ROUTE_TABLE,
    aws: {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      sessionToken: env.AWS_SESSION_TOKEN || undefined,
      region: env.AWS_REGION || undefined,
    },
    maxBodyBytes: env.MAX_BODY_BYTES || undefined,
    backendTimeoutMs: env.BACKEND_TIMEOUT_MS || undefined,
    corsOrigins: env.CORS_ORIGINS || undefined,
    jwt: env.JWT_ISSUER ? { issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE, jwksUrl: env.JWT_JWKS_URL } : undefined,
  });
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid edge configuration: ${problems.join('; ')}`);
  }
  parsed.set(env, result.data);
  return result.data;
}

/** The app's single typed context. */
export interface AppEnv {
  Bindings: Bindings;
  Variables: RequestIdVariables & AuthVariables & { config: Config };
}
