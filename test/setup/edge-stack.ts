/**
 * Global setup of the `edge` test project: the real local stack without `wrangler dev` (Redis, the
 * Upstash bridge, the reference model server, the Lambda host with the SageMaker adapter). The
 * worker under test runs in the pool's own workerd with the same bindings `npm start` gives it.
 * Also a local JWKS server with an RSA and an EC signing key generated here, for the JWT mode; the
 * stack's EventBridge stand-in (verifying the edge's credentials) is the edge's bus.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tsImport } from 'tsx/esm/api';
import type { TestProject } from 'vitest/node';
import { startWebhookReceiver, webhookTestVars } from './webhook-receiver';
import { startOutageBridge } from './outage-bridge';
import { startImageHost } from './image-host';

// Loaded through tsx, not through this project's Vite pipeline: the edge project resolves packages
// with workerd's export conditions, which would hand Node-only packages (ioredis) their wrong build.
type StackModule = typeof import('../../tools/stack/stack');

export default async function setup(project: TestProject) {
  const { startStack } = (await tsImport('../../tools/stack/stack.ts', import.meta.url)) as StackModule;
  const stateDir = await mkdtemp(join(tmpdir(), 'gw-edge-test-'));
  const stack = await startStack({ ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 }, stateDir, edge: false });
  // Webhook ingest and async jobs: a receiver for forwards and callbacks, and test sources.
  const receiver = await startWebhookReceiver();
  const webhooks = webhookTestVars(receiver.url, { prompt: stack.model, chat: 'mistral-7b-instruct-lmi' });
  const images = await startImageHost();
  // A remote image that never comes fails in a second, not in the default 5 s.
  project.provide('edgeVars', { ...stack.edgeVars, ...webhooks.vars, IMAGE_FETCH_TIMEOUT_MS: '1000' });
  project.provide('imageHostUrl', images.url);
  project.provide('webhookReceiverUrl', receiver.url);
  project.provide('webhookSecrets', webhooks.secrets);
  project.provide('webhookTenants', webhooks.tenants);
  project.provide('apiKey', stack.apiKey);
  project.provide('tenantId', stack.tenantId);
  project.provide('model', stack.model);
  project.provide('modelServerUrl', stack.modelServer.url);
  project.provide('bridgeUrl', stack.bridge.url);
  project.provide('bridgeToken', stack.bridgeToken);
  // Store outage tests: a second bridge on the same Redis whose fault knobs a test turns, or that
  // it stops and starts, while the stack's bridge stays healthy.
  const outageBridge = await startOutageBridge(stack.components.redis, stack.bridgeToken);
  project.provide('outageBridgeUrl', outageBridge.url);
  project.provide('outageBridgeToken', outageBridge.token);
  project.provide('outageBridgeAdminUrl', outageBridge.adminUrl);
  project.provide('metricsSinkUrl', stack.metricsSink.url);
  // The stack's EventBridge stand-in, which the edge's EVENTBRIDGE_ENDPOINT points at.
  project.provide('eventBridgeUrl', stack.eventBridge.url);
  project.provide('eventBridgeAdminToken', stack.eventBridge.adminToken);
  const jwks = await startJwksServer();
  project.provide('jwksServerUrl', jwks.url);
  project.provide('jwtSigningKeys', jwks.signingKeys);
  return async () => {
    await outageBridge.close();
    await new Promise((resolve) => jwks.server.close(resolve));
    await new Promise((resolve) => receiver.server.close(resolve));
    images.server.closeAllConnections();
    await new Promise((resolve) => images.server.close(resolve));
    await stack.stop();
    await rm(stateDir, { recursive: true, force: true });
  };
}

type Jwk = Record<string, string>;

/** A JWK of a generated key (private: with `d`), with the id and algorithm JWKS entries carry. */
function jwkOf(key: KeyObject, kid: string, alg: string): Jwk {
  return { ...(key.export({ format: 'jwk' }) as Jwk), kid, alg, use: 'sig' };
}

/**
 * A JWKS server for tests on a free port. Any path serves the public keys of the two generated
 * signing keys and counts its hits, so each test can use its own path (`/<test>/jwks.json`) and
 * count its own fetches. `PUT /_admin?path=P` with `{jwks?, status?, delayMs?}` changes what P
 * answers (rotation, outage, slowness); `GET /_admin?path=P` answers `{hits}`.
 */
async function startJwksServer(): Promise<{ server: Server; url: string; signingKeys: { rsa: Jwk; ec: Jwk } }> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKeys = { rsa: jwkOf(rsa.privateKey, 'rsa-1', 'RS256'), ec: jwkOf(ec.privateKey, 'ec-1', 'ES256') };
  const publicJwks = { keys: [jwkOf(rsa.publicKey, 'rsa-1', 'RS256'), jwkOf(ec.publicKey, 'ec-1', 'ES256')] };
  const hits = new Map<string, number>();
  const behaviour = new Map<string, { jwks?: unknown; status?: number; delayMs?: number }>();

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (url.pathname === '/_admin') {
        const path = url.searchParams.get('path') ?? '';
        if (req.method === 'PUT') behaviour.set(path, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { jwks?: unknown });
        return json(200, { hits: hits.get(path) ?? 0 });
      }
      hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
      const how = behaviour.get(url.pathname) ?? {};
      setTimeout(() => json(how.status ?? 200, how.status ? { error: 'unavailable' } : (how.jwks ?? publicJwks)), how.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}`, signingKeys };
}
