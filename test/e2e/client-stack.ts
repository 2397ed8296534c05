/**
 * The local stack with a tenant and key made by the operator CLI's real entry, as a user would make
 * them, and the official `openai` client, unchanged, pointed at the gateway with that key.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { REPO_ROOT, startStack, type Stack } from '../../tools/stack/stack';

const run = promisify(execFile);

export interface ClientStack {
  readonly stack: Stack;
  readonly client: OpenAI;
  stop(): Promise<void>;
}

/** Starts the stack on free ports and a `pro` tenant (`ten_<label>…`, named `name`) with an `infer` key. */
export async function startClientStack(label: string, name: string): Promise<ClientStack> {
  const stateDir = await mkdtemp(join(tmpdir(), `gw-${label}-`));
  const stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir });
  const stop = async () => {
    await stack.stop();
    await rm(stateDir, { recursive: true, force: true });
  };
  try {
    // The CLI finds the store through the stack's stack.json.
    const gw = async (...args: string[]) =>
      (
        await run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'tools/cli/main.ts'), ...args], {
          cwd: REPO_ROOT,
          env: { ...process.env, STACK_STATE_DIR: stateDir, UPSTASH_REDIS_REST_URL: '', UPSTASH_REDIS_REST_TOKEN: '' },
        })
      ).stdout;
    const tenantId = `ten_${label}${Date.now().toString(36)}`;
    await gw('tenant', 'create', '--name', name, '--plan', 'pro', '--id', tenantId, '--json');
    const created = JSON.parse(await gw('key', 'create', tenantId, '--scopes', 'infer', '--json')) as { apiKey: string };
    return { stack, client: new OpenAI({ baseURL: `${stack.gatewayUrl}/v1`, apiKey: created.apiKey, maxRetries: 0 }), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
