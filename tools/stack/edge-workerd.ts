/**
 * The edge as `npm start` serves it: the deploy bundle (edge-bundle.ts) in Miniflare's workerd, each
 * edge location a worker of its own (its own isolate, so its own module state: key cache, breaker,
 * quota gate) answering on its own direct socket. No `wrangler dev` proxy, no entry worker and no
 * inspector sit on the request path. All locations run in one workerd, so they share its queues:
 * every location produces to them and the first consumes them (a queue has one consumer), as in
 * Cloudflare where a queue is global. Queue messages and the Cache API persist under the stack's
 * state dir in `wrangler dev --persist-to`'s layout, so both ways of running the edge see the same
 * state. The Cache API is one store per workerd: locations share L1 here, unlike in Cloudflare.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { Log, LogLevel, Miniflare, type WorkerOptions } from 'miniflare';
import type { WorkerBundle, WorkerSettings } from './edge-bundle';
import { childPids } from './proc';

/** Options of {@link startEdgeWorkerd}. */
export interface EdgeWorkerdOptions {
  readonly bundle: WorkerBundle;
  readonly settings: WorkerSettings;
  /** The Worker's bindings on top of wrangler.toml's vars (store, route table, credentials). */
  readonly bindings: Readonly<Record<string, string>>;
  /** One port per location on 127.0.0.1 (0: a free one); the first location consumes the queues. */
  readonly locationPorts: readonly number[];
  /** Also run a copy with the Cache API disabled, so an L2 (store) hit can be measured. Default false. */
  readonly noL1Copy?: boolean;
  /** Also run a copy with the usage ledger off (`USAGE_LEDGER=off`), so what recording costs can be measured. Default false. */
  readonly noUsageCopy?: boolean;
  /** Persist queues and the Cache API under `<dir>/v3` (wrangler dev's layout); unset keeps them in memory. */
  readonly persistDir?: string;
  /** Receives each line the workers write (their JSON request log, warnings). */
  readonly log?: (line: string) => void;
}

/** The running edge. */
export interface EdgeWorkerd {
  /** One URL per location, in the order of `locationPorts`. */
  readonly urls: readonly string[];
  /** The copy without the Cache API, when asked for. */
  readonly noL1Url: string | undefined;
  /** The copy with the usage ledger off, when asked for. */
  readonly noUsageUrl: string | undefined;
  /** The workerd process (all locations), when it could be found in /proc. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

const locationName = (i: number) => (i === 0 ? 'edge' : `edge-${i + 1}`);
const NO_L1_NAME = 'edge-no-l1';
const NO_USAGE_NAME = 'edge-no-usage';

/** Starts every location of the edge in one workerd and resolves once each answers on its socket. */
export async function startEdgeWorkerd(options: EdgeWorkerdOptions): Promise<EdgeWorkerd> {
  if (options.locationPorts.length === 0) throw new Error('startEdgeWorkerd: at least one location');
  const { queueConsumers, ...shared } = options.settings;
  const log = options.log ?? (() => {});
  const common = {
    ...shared,
    modules: true,
    scriptPath: options.bundle.scriptPath,
    modulesRoot: options.bundle.dir,
    bindings: { ...shared.bindings, ...options.bindings },
    // Miniflare routes every outbound fetch through a JavaScript worker of its own that drops
    // CF-Connecting-IP: one more isolate hop per subrequest (store, adapter, metrics), which
    // Cloudflare does not have. The edge never forwards a client's headers, so there is nothing to strip.
    stripCfConnectingIp: false,
  } satisfies WorkerOptions;
  const socket = (port: number) => [{ host: '127.0.0.1', port }];
  const workers: WorkerOptions[] = options.locationPorts.map((port, i) => ({
    ...common,
    ...(i === 0 && queueConsumers ? { queueConsumers } : {}),
    name: locationName(i),
    cache: true,
    unsafeDirectSockets: socket(port),
  }));
  if (options.noL1Copy) workers.push({ ...common, name: NO_L1_NAME, cache: false, unsafeDirectSockets: socket(0) });
  // The same Cache API as the locations (one per workerd): only the ledger differs.
  if (options.noUsageCopy) {
    const bindings = { ...common.bindings, USAGE_LEDGER: 'off' };
    workers.push({ ...common, bindings, name: NO_USAGE_NAME, cache: true, unsafeDirectSockets: socket(0) });
  }

  const before = new Set(await childPids(process.pid, 'workerd'));
  const mf = new Miniflare({
    // Miniflare's own entry socket (its router, not on the measured path) on a free loopback port.
    host: '127.0.0.1',
    port: 0,
    log: new Log(LogLevel.WARN),
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      for (const stream of [stdout, stderr]) createInterface({ input: stream }).on('line', log);
    },
    ...(options.persistDir ? { defaultPersistRoot: join(options.persistDir, 'v3') } : { cachePersist: false }),
    // The placeholder `request.cf`: the real one would be fetched from Cloudflare (no network here).
    cf: false,
    workers,
  });
  try {
    await mf.ready;
    const urls = await Promise.all(options.locationPorts.map(async (_, i) => (await mf.unsafeGetDirectURL(locationName(i))).origin));
    const noL1Url = options.noL1Copy ? (await mf.unsafeGetDirectURL(NO_L1_NAME)).origin : undefined;
    const noUsageUrl = options.noUsageCopy ? (await mf.unsafeGetDirectURL(NO_USAGE_NAME)).origin : undefined;
    const spawned = (await childPids(process.pid, 'workerd')).filter((pid) => !before.has(pid));
    return {
      urls,
      noL1Url,
      noUsageUrl,
      pid: spawned.length === 1 ? spawned[0] : undefined,
      stop: () => mf.dispose(),
    };
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
}
