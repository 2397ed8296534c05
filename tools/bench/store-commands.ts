/**
 * What the edge asks of the store, command by command: Redis MONITOR on the bench's private Redis
 * sees every command the Upstash bridge runs, with its key and Redis's own timestamp. Each command
 * is filed by what it is for (rate limits, the L2 read, cache writes, idempotency, key and tenant
 * lookups) from its key's prefix, then counted per admitted request at steady load and on the
 * critical path of sequential requests (between sending and the response headers).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { jobFor, type LoadSubject } from './subjects';
import type { BenchEnvironment } from './environment';

/** What a store command is for. */
export const COMMAND_CATEGORIES = ['rate-limit', 'l2-read', 'cache-write', 'idempotency', 'auth', 'other'] as const;
export type CommandCategory = (typeof COMMAND_CATEGORIES)[number];

/** Per-category counts. */
export type CommandCounts = Record<CommandCategory, number>;

const SCRIPT_COMMANDS = new Set(['eval', 'evalsha', 'eval_ro', 'evalsha_ro']);
const CACHE_READS = new Set(['get', 'getex', 'mget']);
/** Transaction wrappers: the bridge does not count them as commands either. */
const WRAPPERS = new Set(['multi', 'exec', 'discard']);

/** The first key a command names (scripts: the first of KEYS), if any. */
function firstKey(args: readonly string[]): string | undefined {
  const name = args[0]?.toLowerCase() ?? '';
  if (SCRIPT_COMMANDS.has(name)) return Number(args[2]) > 0 ? args[3] : undefined;
  return args[1];
}

/** Files a command (`[name, ...args]`, as MONITOR reports it) by its purpose; undefined for MULTI/EXEC. */
export function categorize(args: readonly string[]): CommandCategory | undefined {
  const name = args[0]?.toLowerCase() ?? '';
  if (WRAPPERS.has(name)) return undefined;
  const key = firstKey(args) ?? '';
  if (key.startsWith('gw:rl')) return 'rate-limit';
  if (key.startsWith('gw:cache:')) return CACHE_READS.has(name) ? 'l2-read' : 'cache-write';
  if (key.startsWith('gw:idem:')) return 'idempotency';
  if (key.startsWith('gw:key:') || key.startsWith('gw:keyid:') || key.startsWith('gw:tenant:')) return 'auth';
  return 'other';
}

const zero = (): CommandCounts => ({ 'rate-limit': 0, 'l2-read': 0, 'cache-write': 0, idempotency: 0, auth: 0, other: 0 });

interface SeenCommand {
  /** Redis's clock when it ran the command, epoch ms. */
  readonly atMs: number;
  readonly category: CommandCategory;
}

/** A MONITOR connection collecting commands until stopped. */
interface StoreWatch {
  /** Commands seen since the last take. */
  take(): SeenCommand[];
  /** How many commands were seen since the last take. */
  pending(): number;
  stop(): Promise<void>;
}

async function watchStore(redisUrl: string): Promise<StoreWatch> {
  const client = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  const monitor = await client.monitor();
  let seen: SeenCommand[] = [];
  monitor.on('monitor', (time: string, args: string[], source: string) => {
    // Commands a Lua script runs (the limiter's INCRBY, PEXPIRE) come as `lua`: part of their EVALSHA.
    if (source === 'lua') return;
    const category = categorize(args);
    if (category) seen.push({ atMs: Number(time) * 1000, category });
  });
  // MONITOR starts with the next command; a PING through another connection marks the start.
  await client.ping();
  return {
    take() {
      const out = seen;
      seen = [];
      return out;
    },
    pending: () => seen.length,
    async stop() {
      monitor.disconnect();
      client.disconnect();
    },
  };
}

function count(commands: readonly SeenCommand[]): CommandCounts {
  const out = zero();
  for (const c of commands) out[c.category] += 1;
  return out;
}

const per = (counts: CommandCounts, n: number): CommandCounts =>
  Object.fromEntries(COMMAND_CATEGORIES.map((k) => [k, n > 0 ? Math.round((counts[k] / n) * 1000) / 1000 : Number.NaN])) as CommandCounts;

/** Store commands per admitted request of one subject at a fixed rate. */
export interface SteadyCommands {
  readonly subject: string;
  readonly rate: number;
  readonly seconds: number;
  /** Responses with the subject's expected status. */
  readonly admitted: number;
  readonly perAdmitted: CommandCounts;
  /** Commands the bridge counted over the same run (MONITOR's total should match it). */
  readonly bridgeCommands: number;
  readonly monitoredCommands: number;
}

/**
 * Store commands per sequential request, counted between sending it and its response headers. A
 * rate-limit command in that span of a request whose limits were decided from its isolate's leases
 * (`Server-Timing: limits;desc="lease"`) ran beside it (a refill in the background), not on its path.
 */
export interface CriticalPathCommands {
  readonly subject: string;
  readonly requests: number;
  readonly perRequest: CommandCounts;
  /** Where each request's limits were decided (Server-Timing `limits` desc: lease, store, local; none for a refusal). */
  readonly limitsFrom: Record<string, number>;
  /** Rate-limit commands in the span of requests admitted from their leases: background work beside them. */
  readonly besideLeaseAdmissions: number;
}

/** Both counts for the given subjects. */
export interface StoreCommandCounts {
  readonly steady: SteadyCommands[];
  readonly criticalPath: CriticalPathCommands[];
}

/** Runs each subject at `rate` for `seconds` (steady), then `sequential` requests one by one (critical path). */
export async function measureStoreCommands(
  env: BenchEnvironment,
  subjects: readonly LoadSubject[],
  options: { readonly rate: number; readonly connections: number; readonly seconds: number; readonly sequential: number },
): Promise<StoreCommandCounts> {
  const watch = await watchStore(env.stack.components.redis);
  // Until the store has been quiet for 300 ms: the last requests' background work (waitUntil, the
  // usage queue's batches, which wait up to a second) has landed and MONITOR has logged it.
  const settle = async () => {
    const deadline = Date.now() + 5_000;
    let seen = -1;
    for (let still = 0; still < 3 && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 100));
      const now = env.stack.bridge.stats().redisCommands + watch.pending();
      still = now === seen ? still + 1 : 0;
      seen = now;
    }
  };
  try {
    const steady: SteadyCommands[] = [];
    const criticalPath: CriticalPathCommands[] = [];
    for (const s of subjects) {
      await settle();
      watch.take();
      env.stack.bridge.resetStats();
      const run = await env.load.run(jobFor(s, { connections: options.connections, rate: options.rate }, options.seconds));
      await settle(); // background work (waitUntil) of the last requests
      const seen = watch.take();
      const admitted = run.statuses[String(s.expectStatus)] ?? 0;
      steady.push({
        subject: s.id,
        rate: options.rate,
        seconds: run.durationSec,
        admitted,
        perAdmitted: per(count(seen), admitted),
        bridgeCommands: env.stack.bridge.stats().redisCommands,
        monitoredCommands: seen.length,
      });

      const critical = zero();
      const limitsFrom: Record<string, number> = {};
      let besideLeaseAdmissions = 0;
      for (let i = 0; i < options.sequential; i += 1) {
        await settle();
        watch.take();
        const sentAt = Date.now();
        const res = await fetch(s.target.url, { method: s.target.method, headers: s.target.headers, body: s.target.body.replaceAll('[<id>]', randomUUID()) });
        const headersAt = Date.now();
        const from = /(?:^|, )limits;desc="(\w+)"/.exec(res.headers.get('server-timing') ?? '')?.[1] ?? 'none';
        limitsFrom[from] = (limitsFrom[from] ?? 0) + 1;
        await res.arrayBuffer();
        await settle();
        for (const c of watch.take()) {
          if (c.atMs < sentAt || c.atMs > headersAt) continue;
          if (c.category === 'rate-limit' && from === 'lease') besideLeaseAdmissions += 1;
          else critical[c.category] += 1;
        }
      }
      criticalPath.push({ subject: s.id, requests: options.sequential, perRequest: per(critical, options.sequential), limitsFrom, besideLeaseAdmissions });
    }
    return { steady, criticalPath };
  } finally {
    await watch.stop();
  }
}
