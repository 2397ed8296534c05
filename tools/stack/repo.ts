/**
 * Where the repository is, and how its wrangler runs here: from node_modules, with nothing sent to
 * Cloudflare (no metrics, no update check, no `request.cf` fetch).
 */
import { join, resolve } from 'node:path';

/** The repository's root directory. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** wrangler's CLI entry, run with this Node. */
export const WRANGLER_CLI = join(REPO_ROOT, 'node_modules/wrangler/wrangler-dist/cli.js');

/** Environment that keeps wrangler and workerd off the network: no metrics, no update check. */
export const WRANGLER_OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
  WRANGLER_HIDE_BANNER: 'true',
  WRANGLER_LOG: 'warn',
  NO_UPDATE_NOTIFIER: '1',
} as const;
