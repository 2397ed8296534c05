/**
 * Parsing and validation of the CLI's argument values: plans, scopes, durations, counts, ids,
 * names and callback URLs. Every rejection is a {@link UsageError} with a one-line reason.
 */
import { KEY_PREFIXES, PLANS, SCOPES, TENANT_ID_PATTERN, type KeyMode, type Plan, type Scope } from '../../shared/contracts/tenancy';

/** Bad command-line input: the CLI prints the message and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parsed option values as `node:util` parseArgs returns them. */
export type OptionValues = Readonly<Record<string, string | boolean | undefined>>;

/** A string option's value, or undefined when absent. */
export function optString(values: OptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A string option that must be present. */
export function requireString(values: OptionValues, name: string): string {
  const value = optString(values, name);
  if (value === undefined) throw new UsageError(`--${name} is required`);
  return value;
}

/** One of the plans of SPEC §3. */
export function parsePlan(text: string): Plan {
  const plan = PLANS.find((p) => p === text);
  if (!plan) throw new UsageError(`unknown plan '${text}' (expected ${PLANS.join(', ')})`);
  return plan;
}

/** `live` or `test`. */
export function parseMode(text: string): KeyMode {
  if (text === 'live' || text === 'test') return text;
  throw new UsageError(`unknown key mode '${text}' (expected ${Object.keys(KEY_PREFIXES).join(', ')})`);
}

/** A comma-separated list of scopes, each one of SCOPES; duplicates dropped. */
export function parseScopes(text: string): Scope[] {
  const items = splitList(text);
  if (items.length === 0) throw new UsageError(`--scopes needs at least one of ${SCOPES.join(', ')}`);
  const scopes = items.map((item) => {
    const scope = SCOPES.find((s) => s === item);
    if (!scope) throw new UsageError(`unknown scope '${item}' (expected ${SCOPES.join(', ')})`);
    return scope;
  });
  return [...new Set(scopes)];
}

/** Items of a comma-separated list, trimmed, empty items dropped. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const MAX_DURATION_MS = 3650 * UNIT_MS.d;

/**
 * A duration such as `90s`, `15m`, `24h`, `30d`, `2w` or `1d12h`, in milliseconds. `0` is accepted
 * only with `allowZero`; the upper bound is ten years.
 */
export function parseDuration(text: string, option: string, { allowZero = false } = {}): number {
  const bad = () => new UsageError(`invalid duration '${text}' for --${option} (e.g. 90s, 15m, 24h, 30d, 2w, 1d12h${allowZero ? ', 0' : ''})`);
  if (text === '0' && allowZero) return 0;
  if (!/^(?:\d{1,6}[smhdw])+$/.test(text)) throw bad();
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhdw])/g)) ms += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  if (ms === 0 && !allowZero) throw bad();
  if (ms > MAX_DURATION_MS) throw new UsageError(`--${option} ${text} is longer than ten years`);
  return ms;
}

/** A positive whole number. */
export function parsePositiveInt(text: string, option: string): number {
  const n = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${option} must be a positive whole number, got '${text}'`);
  return n;
}

/** A tenant id in the shared format. */
export function parseTenantId(text: string): string {
  if (!TENANT_ID_PATTERN.test(text)) {
    throw new UsageError(`invalid tenant id '${text}' (3–64 characters: a lower-case letter, then lower-case letters, digits, _ or -)`);
  }
  return text;
}

/** A key id as the tools issue them. */
export function parseKeyId(text: string): string {
  if (!/^key_[A-Za-z0-9_-]{1,60}$/.test(text)) throw new UsageError(`invalid key id '${text}' (key ids look like key_live_… or key_test_…)`);
  return text;
}

/** A display name: trimmed, no control characters, within `max` characters. */
export function parseName(text: string, option: string, max: number): string {
  const name = text.trim();
  // Control characters would garble the operator's terminal in listings.
  if (name.length === 0 || name.length > max || /\p{Cc}/u.test(name)) {
    throw new UsageError(`--${option} must be 1–${max} printable characters`);
  }
  return name;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** An https URL (http only for this machine, for the local stack), without credentials. */
export function parseCallbackUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid callback URL '${text}'`);
  }
  const local = url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname);
  if (url.protocol !== 'https:' && !local) throw new UsageError(`the callback URL must use https (http only for localhost), got '${text}'`);
  if (url.username || url.password) throw new UsageError('the callback URL must not contain credentials');
  return url.toString();
}
