/**
 * Where the CLI's store is: `UPSTASH_REDIS_REST_URL` / `UPSTASH_REDIS_REST_TOKEN` when set (a real
 * Upstash database or any bridge), else the running local stack's `stack.json` (the bridge's URL
 * under `components.bridge` and its token under `bridgeToken`). Also turns transport failures of
 * the store into one-line reasons.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errors, Redis } from '@upstash/redis';
import type { TenancyStore } from '../tenancy/store';

/** How to reach the store, and where that came from (for error messages). */
export interface StoreConfig {
  readonly url: string;
  readonly token: string;
  /** `environment` or the path of the stack.json it was read from. */
  readonly source: string;
  /** Each request to the store gives up after this long (env GW_STORE_TIMEOUT_MS). */
  readonly timeoutMs: number;
}

/** The store is not configured, or its configuration is unusable. */
export class StoreConfigError extends Error {
  override readonly name = 'StoreConfigError';
}

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Default of {@link StoreConfig.timeoutMs}: a hung store cannot hang the CLI. */
export const STORE_TIMEOUT_MS = 10_000;

function timeoutFrom(env: Readonly<Record<string, string | undefined>>): number {
  const text = env.GW_STORE_TIMEOUT_MS?.trim();
  if (!text) return STORE_TIMEOUT_MS;
  const ms = Number(text);
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new StoreConfigError('GW_STORE_TIMEOUT_MS must be a positive whole number of milliseconds');
  return ms;
}

function httpUrl(text: string, what: string): string {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return text.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  throw new StoreConfigError(`${what} is not an http(s) URL`);
}

/** Where the running local stack describes itself: `$STACK_STATE_DIR/stack.json` (default `.local/` in the repository). */
export function stackJsonPath(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.STACK_STATE_DIR || join(REPO_ROOT, '.local'), 'stack.json');
}

/** Resolves the store from the environment, else from `$STACK_STATE_DIR/stack.json` (default `.local/`). */
export async function resolveStoreConfig(env: Readonly<Record<string, string | undefined>>): Promise<StoreConfig> {
  const timeoutMs = timeoutFrom(env);
  const url = env.UPSTASH_REDIS_REST_URL?.trim();
  const token = env.UPSTASH_REDIS_REST_TOKEN?.trim();
  if (url || token) {
    if (!url) throw new StoreConfigError('UPSTASH_REDIS_REST_TOKEN is set but UPSTASH_REDIS_REST_URL is not');
    if (!token) throw new StoreConfigError('UPSTASH_REDIS_REST_URL is set but UPSTASH_REDIS_REST_TOKEN is not');
    return { url: httpUrl(url, 'UPSTASH_REDIS_REST_URL'), token, source: 'environment', timeoutMs };
  }

  const path = stackJsonPath(env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new StoreConfigError('no store configured: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or start the local stack (npm start)');
  }
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch {
    throw new StoreConfigError(`${path} is not valid JSON`);
  }
  const record = typeof info === 'object' && info !== null ? (info as Record<string, unknown>) : {};
  const components = typeof record.components === 'object' && record.components !== null ? (record.components as Record<string, unknown>) : {};
  const bridge = components.bridge;
  const bridgeToken = record.bridgeToken;
  if (typeof bridge !== 'string') throw new StoreConfigError(`${path} has no components.bridge URL`);
  if (typeof bridgeToken !== 'string' || bridgeToken === '') {
    throw new StoreConfigError(`${path} has no bridgeToken: restart the local stack, or set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN`);
  }
  return { url: httpUrl(bridge, `components.bridge in ${path}`), token: bridgeToken, source: path, timeoutMs };
}

/** An @upstash/redis client (Node build) for the CLI: two quick retries on network errors, a timeout per request. */
export function connectStore(config: StoreConfig): TenancyStore {
  return new Redis({
    url: config.url,
    token: config.token,
    enableTelemetry: false,
    retry: { retries: 2, backoff: (attempt) => 100 * 2 ** attempt },
    // A fresh signal per request: the client then fails at once on a timeout instead of retrying.
    signal: () => AbortSignal.timeout(config.timeoutMs),
  });
}

/** A one-line reason for a failure talking to the store, or undefined if `err` is something else. */
export function describeStoreError(err: unknown, config: StoreConfig): string | undefined {
  const hint = config.source === 'environment' ? '' : ' (is the local stack running? npm start)';
  if (err instanceof errors.UpstashError && err.name === 'UpstashJSONParseError') {
    return `the store at ${config.url} answered with an error that is not the Upstash REST API's (check the URL)`;
  }
  if (err instanceof errors.UpstashError) {
    const message = err.message.replace(/, command was: .*$/s, '');
    if (message.startsWith('WRONGPASS')) return `the store at ${config.url} rejected the token (from ${config.source})`;
    return `the store at ${config.url} failed: ${message.split('\n')[0]}`;
  }
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
    return `the store at ${config.url} did not answer within ${config.timeoutMs} ms${hint}`;
  }
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = err.cause instanceof Error ? ((err.cause as NodeJS.ErrnoException).code ?? err.cause.message) : undefined;
    return `cannot reach the store at ${config.url}${cause ? ` (${cause})` : ''}${hint}`;
  }
  return undefined;
}
