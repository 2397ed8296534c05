/**
 * CLI of the local Lambda host: `tsx tools/lambda-host/main.ts [config.json]`.
 *
 * The config (file argument, else `LAMBDA_HOST_CONFIG` as a path or inline JSON) is
 * `{ region, credentials: [{accessKeyId, secretAccessKey, sessionToken?}], host?, maxBodyBytes?,
 *    functions: [{ name, module, export?, invokeMode?, authType?, timeoutMs?, port?, env? }] }`;
 * module paths resolve against the working directory. `LAMBDA_HOST_REGION`,
 * `LAMBDA_HOST_ACCESS_KEY_ID` / `LAMBDA_HOST_SECRET_ACCESS_KEY` / `LAMBDA_HOST_SESSION_TOKEN`
 * override or add to the file. Prints `<name> <url>` per function, stops cleanly on SIGINT/SIGTERM.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as z from 'zod';
import { startLambdaHost } from './server';
import type { FunctionSpec, LambdaHostOptions } from './types';

const credentialsSchema = z.object({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
  accountId: z.string().optional(),
  userArn: z.string().optional(),
  userId: z.string().optional(),
});

const functionSchema = z.object({
  name: z.string().min(1),
  module: z.string().min(1),
  export: z.string().min(1).optional(),
  invokeMode: z.enum(['BUFFERED', 'RESPONSE_STREAM']).optional(),
  authType: z.enum(['AWS_IAM', 'NONE']).optional(),
  timeoutMs: z.number().int().positive().optional(),
  port: z.number().int().min(0).max(65535).optional(),
  env: z.record(z.string(), z.string()).optional(),
});

const configSchema = z.object({
  region: z.string().min(1),
  credentials: z.array(credentialsSchema).default([]),
  host: z.string().min(1).optional(),
  maxBodyBytes: z.number().int().positive().optional(),
  accountId: z.string().optional(),
  functions: z.array(functionSchema).min(1),
});

/** Reads and validates the config; throws with a readable message when it is wrong. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): LambdaHostOptions {
  const source = argv[0] ?? env['LAMBDA_HOST_CONFIG'];
  if (!source) throw new Error('usage: main.ts <config.json> (or set LAMBDA_HOST_CONFIG)');
  const text = source.trimStart().startsWith('{') ? source : readFileSync(source, 'utf8');
  const raw: unknown = JSON.parse(text);
  if (typeof raw === 'object' && raw !== null && env['LAMBDA_HOST_REGION']) Object.assign(raw, { region: env['LAMBDA_HOST_REGION'] });
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid lambda host config: ${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  const credentials = [...config.credentials];
  const envKey = env['LAMBDA_HOST_ACCESS_KEY_ID'];
  const envSecret = env['LAMBDA_HOST_SECRET_ACCESS_KEY'];
  if (envKey && envSecret) {
    const token = env['LAMBDA_HOST_SESSION_TOKEN'];
    credentials.push({ accessKeyId: envKey, secretAccessKey: envSecret, ...(token ? { sessionToken: token } : {}) });
  }
  const functions: FunctionSpec[] = config.functions.map(({ module, export: exportName, ...rest }) => {
    if (!existsSync(module)) throw new Error(`invalid lambda host config: ${rest.name}: module ${module} not found`);
    return { ...rest, handler: { module, ...(exportName ? { export: exportName } : {}) } };
  });
  return { ...config, credentials, functions };
}

async function main(): Promise<void> {
  const options = loadConfig(process.argv.slice(2), process.env);
  const host = await startLambdaHost(options);
  for (const [name, url] of Object.entries(host.urls)) process.stdout.write(`${name} ${url}\n`);
  const stop = (signal: NodeJS.Signals | 'parent exited') => {
    process.stderr.write(`lambda host: ${signal}, stopping\n`);
    host.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Started by a launcher in its own process group: if the launcher dies without stopping us (killed
  // test runner), we are re-parented; stop then instead of holding our ports forever.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop('parent exited');
  }, 1_000).unref();
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(resolve(entry)).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`lambda host: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
