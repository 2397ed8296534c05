/**
 * The edge's local settings, written as a dotenv file for `wrangler dev --env-file` so that secrets
 * (store token, AWS keys) never appear on a command line.
 */
import { writeFile } from 'node:fs/promises';

/** Quotes a value for dotenv: single quotes keep JSON intact; single quotes inside are refused. */
function dotenvValue(value: string): string {
  if (value.includes("'") || value.includes('\n')) throw new Error('edge settings must not contain single quotes or newlines');
  return `'${value}'`;
}

export async function writeEdgeEnv(path: string, vars: Record<string, string>): Promise<void> {
  const text = Object.entries(vars)
    .map(([k, v]) => `${k}=${dotenvValue(v)}`)
    .join('\n');
  await writeFile(path, `${text}\n`, { mode: 0o600 });
}
