/**
 * The peer gateway the bench compares against: Portkey's open-source gateway from npm
 * (`@portkey-ai/gateway`), run on Node, headless, as an OpenAI-compatible pass-through to the
 * reference model server (`x-portkey-provider: openai` + `x-portkey-custom-host`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/net';
import { answersOk, spawnChild, waitUntilReady } from '../stack/child';
import { REPO_ROOT } from '../stack/stack';

export const PEER_ENTRY = join(REPO_ROOT, 'node_modules/@portkey-ai/gateway/build/start-server.js');

export interface PeerGateway {
  readonly url: string;
  readonly version: string;
  /** Headers that make it forward to `modelServerUrl`'s OpenAI API. */
  headersFor(modelServerUrl: string): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the peer on a free port; throws (naming the reason) when it is not installed or fails. */
export async function startPeer(log: (line: string) => void = () => {}): Promise<PeerGateway> {
  if (!existsSync(PEER_ENTRY)) throw new Error('@portkey-ai/gateway is not installed (npm ci installs it as a devDependency)');
  const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules/@portkey-ai/gateway/package.json'), 'utf8')) as { version: string };
  const port = await freePort();
  const child = spawnChild({
    name: 'peer-gateway',
    command: process.execPath,
    args: [PEER_ENTRY, `--port=${port}`, '--headless'],
    cwd: REPO_ROOT,
    env: { ...process.env, NODE_ENV: 'production' },
    onLine: log,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(child, () => answersOk(`${url}/`), `GET / not answering on ${port}`, 30_000);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    url,
    version,
    headersFor: (modelServerUrl) => ({ 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${modelServerUrl}/v1`, authorization: 'Bearer sk-local' }),
    stop: () => child.stop(),
  };
}
