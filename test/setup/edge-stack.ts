/**
 * Global setup of the `edge` test project: the real local stack without `wrangler dev` (Redis, the
 * Upstash bridge, the reference model server, the Lambda host with the SageMaker adapter). The
 * worker under test runs in the pool's own workerd with the same bindings `npm start` gives it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsImport } from 'tsx/esm/api';
import type { TestProject } from 'vitest/node';

// Loaded through tsx, not through this project's Vite pipeline: the edge project resolves packages
// with workerd's export conditions, which would hand Node-only packages (ioredis) their wrong build.
type StackModule = typeof import('../../tools/stack/stack');

export default async function setup(project: TestProject) {
  const { startStack } = (await tsImport('../../tools/stack/stack.ts', import.meta.url)) as StackModule;
  const stateDir = await mkdtemp(join(tmpdir(), 'gw-edge-test-'));
  const stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir, edge: false });
  project.provide('edgeVars', { ...stack.edgeVars });
  project.provide('apiKey', stack.apiKey);
  project.provide('tenantId', stack.tenantId);
  project.provide('model', stack.model);
  project.provide('modelServerUrl', stack.modelServer.url);
  project.provide('bridgeUrl', stack.bridge.url);
  project.provide('bridgeToken', stack.bridgeToken);
  return async () => {
    await stack.stop();
    await rm(stateDir, { recursive: true, force: true });
  };
}
