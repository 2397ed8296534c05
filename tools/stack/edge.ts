/**
 * The local stack's edge, either way it is served: the deploy bundle in workerd, one worker per
 * location (`npm start`, edge-workerd.ts), or `wrangler dev`, which rebuilds and reloads it on every
 * edit (`npm run dev:edge`, one location). Both persist queues and the Workers Cache in the same
 * directory, so switching between them keeps the local state.
 */
import { join } from 'node:path';
import { answersOk, ComponentStartError, resolvePort, spawnChild, waitUntilReady } from './child';
import type { WorkerBundle } from './edge-bundle';
import { WRANGLER_CLI, WRANGLER_OFFLINE_ENV, REPO_ROOT } from './repo';
import { keepingOwnSignalHandlers } from './signals';
import { freePort } from '../lib/net';

/** How the edge is served: the deploy bundle in workerd (`npm start`) or `wrangler dev` with hot reload (`npm run dev:edge`). */
export type EdgeRuntime = 'workerd' | 'wrangler-dev';

/** Options of {@link startEdge}. */
export interface EdgeStartOptions {
  readonly runtime: EdgeRuntime;
  readonly stateDir: string;
  /** The bindings as a dotenv file (what `wrangler dev --env-file` reads). */
  readonly envFile: string;
  readonly bindings: Readonly<Record<string, string>>;
  /** The first location's port (0: free ports for all); location i listens on this port + i. */
  readonly gatewayPort: number;
  readonly locations: number;
  /** Also serve a copy with the Cache API off (workerd only). */
  readonly noL1Copy: boolean;
  /** Also serve a copy with the usage ledger off (workerd only). */
  readonly noUsageCopy: boolean;
  readonly log: (line: string) => void;
}

/** A running edge. */
export interface RunningEdge {
  /** One URL per location, the first one first. */
  readonly urls: readonly string[];
  readonly noL1Url: string | undefined;
  readonly noUsageUrl: string | undefined;
  /** The workerd process serving every location (workerd runtime only). */
  readonly pid: number | undefined;
  /** The bundle served (workerd runtime only). */
  readonly bundle: WorkerBundle | undefined;
  /** The progress line: where and how it is served. */
  readonly description: string;
  stop(): Promise<void>;
}

const HEALTH_TIMEOUT_MS = 15_000;

/** The first of `urls` whose `/health` does not answer 2xx within `timeoutMs`, else undefined. */
async function firstNotAnswering(urls: readonly string[], timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    while (!(await answersOk(`${url}/health`))) {
      if (Date.now() > deadline) return url;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return undefined;
}

/** Starts the edge; throws ComponentStartError('edge', …) with whatever it started stopped again. */
export async function startEdge(options: EdgeStartOptions): Promise<RunningEdge> {
  const persistDir = join(options.stateDir, 'wrangler');
  // wrangler dev serves one location; startStack refuses EDGE_LOCATIONS with it before anything starts.
  if (options.runtime === 'wrangler-dev') return startWranglerDev(options, persistDir);
  const locationPorts: number[] = [];
  for (let i = 0; i < options.locations; i += 1) {
    locationPorts.push(await resolvePort('edge', options.gatewayPort === 0 ? 0 : options.gatewayPort + i, 'GATEWAY_PORT'));
  }
  // Wrangler (imported for the Worker's settings) and Miniflare would exit the process on Ctrl-C
  // before npm start stops the other components.
  return keepingOwnSignalHandlers(async () => {
    // Loaded on demand: wrangler and Miniflare are heavy, and most callers of startStack run no edge.
    const { buildWorker, readWorkerSettings } = await import('./edge-bundle');
    const { startEdgeWorkerd } = await import('./edge-workerd');
    const bundle = await buildWorker(join(options.stateDir, 'edge-bundle'));
    const edge = await startEdgeWorkerd({
      bundle,
      settings: readWorkerSettings(),
      bindings: options.bindings,
      locationPorts,
      noL1Copy: options.noL1Copy,
      noUsageCopy: options.noUsageCopy,
      persistDir,
      log: options.log,
    });
    const copies = [edge.noL1Url, edge.noUsageUrl].filter((url) => url !== undefined);
    const silent = await firstNotAnswering([...edge.urls, ...copies], HEALTH_TIMEOUT_MS);
    if (silent) {
      await edge.stop();
      throw new ComponentStartError('edge', `GET ${silent}/health not answering after ${HEALTH_TIMEOUT_MS} ms`);
    }
    const where = edge.urls.length === 1 ? edge.urls[0] : `${edge.urls.join(', ')} (${edge.urls.length} locations, one isolate each)`;
    return { ...edge, bundle, description: `${where} (the deploy bundle in workerd, no dev proxy)` };
  });
}

async function startWranglerDev(options: EdgeStartOptions, persistDir: string): Promise<RunningEdge> {
  const port = await resolvePort('edge', options.gatewayPort, 'GATEWAY_PORT');
  const inspectorPort = await freePort();
  const child = spawnChild({
    name: 'edge',
    command: process.execPath,
    args: [
      WRANGLER_CLI,
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspectorPort),
      '--env-file',
      options.envFile,
      '--persist-to',
      persistDir,
      '--show-interactive-dev-session=false',
      '--live-reload=false',
      '--log-level',
      'warn',
    ],
    cwd: REPO_ROOT,
    env: { ...process.env, ...WRANGLER_OFFLINE_ENV },
    onLine: options.log,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(child, () => answersOk(`${url}/health`), 'GET /health not answering', 90_000);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    urls: [url],
    noL1Url: undefined,
    noUsageUrl: undefined,
    pid: undefined,
    bundle: undefined,
    description: `${url} (wrangler dev, workerd; reloads on every edit)`,
    stop: () => child.stop(),
  };
}
