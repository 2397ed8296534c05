/**
 * The goals, judged against a run's raw results: the hot path's (store round trips off the hot
 * path, `npm start` as fast as the bench) and the earlier ones (sizes, cold init, coalescing). Each
 * is met, missed, or not measured (a feature that is not there yet, or a phase that was skipped),
 * always with the measured figure. Also the derived comparisons: added latency over the direct
 * floor and ratios against the peer.
 */
import { embeddingsGoalRows } from './embeddings';
import type { RawResults, SubjectResult, ModeName } from './run';
import type { LocationAdmission } from './scenarios';
import type { ModeResult } from './load';
import { median, pairedDifferences, ratio, round } from './stats';
import { usageCostGoalRow } from './usage-cost';

export type GoalStatus = 'met' | 'missed' | 'not measured';

/** `hot-path`: no store round trip on the hot path, exact limits kept, `npm start` as fast as the bench; `embeddings`: dynamic batching. */
export type GoalGroup = 'hot-path' | 'embeddings' | 'earlier';

export interface Goal {
  readonly id: string;
  readonly group: GoalGroup;
  readonly goal: string;
  readonly status: GoalStatus;
  readonly measured: string;
}

/** A gateway path against the floor and the peer, in one mode. */
export interface Comparison {
  readonly subject: string;
  readonly mode: ModeName;
  /** Subject percentile minus the direct floor's, ms. */
  readonly addedP50: number | null;
  readonly addedP95: number | null;
  readonly addedP99: number | null;
  /** This path's added p50 divided by the peer's (below 1: this gateway adds less). */
  readonly addedP50VsPeer: number | null;
  /** Throughput divided by the peer's (above 1: this gateway serves more). */
  readonly rpsVsPeer: number | null;
}

const KIB = 1024;

function mode(results: RawResults, id: string, m: ModeName) {
  return results.subjects.find((s) => s.id === id && s.available)?.modes[m];
}

const diff = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? null : round(a - b));

/** Added latency and peer ratios for every measured subject except the floor. */
export function comparisons(results: RawResults): Comparison[] {
  const out: Comparison[] = [];
  for (const s of results.subjects) {
    if (!s.available || s.id === 'direct') continue;
    for (const m of ['fixed', 'saturation'] as const) {
      const r = s.modes[m]?.summary;
      const floor = mode(results, 'direct', m)?.summary;
      const peer = mode(results, 'peer', m)?.summary;
      if (!r) continue;
      const added = diff(r.p50, floor?.p50);
      const peerAdded = diff(peer?.p50, floor?.p50);
      out.push({
        subject: s.id,
        mode: m,
        addedP50: added,
        addedP95: diff(r.p95, floor?.p95),
        addedP99: diff(r.p99, floor?.p99),
        addedP50VsPeer: s.id === 'peer' ? null : ratio(added ?? undefined, peerAdded ?? undefined),
        rpsVsPeer: s.id === 'peer' ? null : ratio(r.rps, peer?.rps),
      });
    }
  }
  return out;
}

const unavailable = (s: SubjectResult | undefined, what: string) => (s && !s.available ? (s.reason ?? 'not available') : `${what} not measured`);

const judged = (id: string, goal: string, ok: boolean | null, measured: string, group: GoalGroup = 'earlier'): Goal => ({
  id,
  group,
  goal,
  status: ok === null ? 'not measured' : ok ? 'met' : 'missed',
  measured,
});

/** Judges every goal: the hot path's first, then embeddings batching, then the earlier ones. */
export function judgeGoals(results: RawResults): Goal[] {
  const embeddings = embeddingsGoalRows(results.embeddings ?? null).map((g) => judged(g.id, g.goal, g.ok, g.measured, 'embeddings'));
  return [...hotPathGoals(results), ...embeddings, ...earlierGoals(results)];
}

function earlierGoals(results: RawResults): Goal[] {
  const goals: Goal[] = [];
  const cmp = comparisons(results);
  const find = (id: string) => results.subjects.find((s) => s.id === id);

  const miss = cmp.find((c) => c.subject === 'miss' && c.mode === 'fixed');
  const peerFixed = cmp.find((c) => c.subject === 'peer' && c.mode === 'fixed');
  goals.push(
    miss?.addedP50 != null && peerFixed?.addedP50 != null
      ? judged(
          'miss-overhead',
          'miss-path added p50 ≤ ½ the peer pass-through overhead',
          miss.addedP50 <= peerFixed.addedP50 / 2,
          `miss adds ${miss.addedP50} ms, peer adds ${peerFixed.addedP50} ms (ratio ${miss.addedP50VsPeer ?? 'n/a'}) at ${results.options.fixedRate} req/s`,
        )
      : judged(
          'miss-overhead',
          'miss-path added p50 ≤ ½ the peer pass-through overhead',
          null,
          miss ? unavailable(find('peer'), 'peer') : unavailable(find('miss'), 'miss'),
        ),
  );

  const rtMiss = results.roundTrips.find((r) => r.subject === 'miss');
  goals.push(
    rtMiss
      ? judged(
          'miss-round-trips',
          'exactly one store round trip on the critical path of a miss',
          rtMiss.beforeResponse === 1,
          `${rtMiss.beforeResponse} before the response, ${rtMiss.total} in all per request (${JSON.stringify(rtMiss.commands)})`,
        )
      : judged('miss-round-trips', 'exactly one store round trip on the critical path of a miss', null, 'round trips not measured'),
  );
  const rtAuth = results.roundTrips.find((r) => r.subject === 'auth-only');
  goals.push(
    rtAuth
      ? judged(
          'auth-round-trips',
          'no store round trip for auth when warm',
          rtAuth.total === 0,
          `${rtAuth.total} per authenticated GET /v1/models with a warm key`,
        )
      : judged('auth-round-trips', 'no store round trip for auth when warm', null, 'round trips not measured'),
  );

  for (const id of ['hit', 'hit-l2'] as const) {
    const s = find(id);
    const fixed = s?.modes.fixed?.summary;
    const what = `cache hit, ${id === 'hit' ? 'warm' : 'the L2 subject'} (served from ${s?.tier ?? 'unknown'}) p50 ≤ 1 ms`;
    goals.push(
      fixed
        ? judged(`${id}-p50`, what, fixed.p50 <= 1, `p50 ${fixed.p50} ms at ${results.options.fixedRate} req/s`)
        : judged(`${id}-p50`, what, null, unavailable(s, id)),
    );
  }

  const c = results.coalescing;
  goals.push(
    c?.available
      ? judged(
          'coalescing',
          `${c.concurrent} coalesced misses → 1 backend call`,
          c.backendCalls === 1,
          `${c.backendCalls} backend calls for ${c.concurrent} identical concurrent requests`,
        )
      : judged('coalescing', '100 coalesced misses → 1 backend call', null, c?.reason ?? 'coalescing not measured'),
  );

  const w = results.worker;
  goals.push(
    judged(
      'worker-size',
      'worker ≤ 300 KiB gzip',
      w.gzipBytes <= 300 * KIB,
      `${round(w.gzipBytes / KIB, 1)} KiB gzip (${round(w.bytes / KIB, 1)} KiB raw) as deployed`,
    ),
  );

  const adapters = Array.isArray(results.adapters) ? results.adapters.filter((a) => a.variant === 'bundled') : [];
  for (const a of adapters) {
    goals.push(
      judged(
        `adapter-${a.adapter}`,
        `${a.adapter} adapter ≤ 1 MB, init ≤ 100 ms (as CDK bundles it: SDK included)`,
        a.bytes <= 1_000_000 && a.initMsMedian <= 100,
        `${round(a.bytes / 1_000_000, 2)} MB, init median ${round(a.initMsMedian, 1)} ms`,
      ),
    );
  }
  if (adapters.length === 0)
    goals.push(
      judged(
        'adapters',
        'each adapter ≤ 1 MB, init ≤ 100 ms',
        null,
        results.adapters && 'error' in results.adapters ? results.adapters.error : 'adapter figures skipped',
      ),
    );
  return goals;
}

const ms = (v: number) => `${round(v)} ms`;

function hotPathGoals(results: RawResults): Goal[] {
  const goals: Goal[] = [];
  const hot = (id: string, goal: string, ok: boolean | null, measured: string) => goals.push(judged(id, goal, ok, measured, 'hot-path'));
  const find = (id: string) => results.subjects.find((s) => s.id === id);
  const p50 = (id: string, m: ModeName = 'fixed') => mode(results, id, m)?.summary.p50;

  // Warm hit against the blocked tenant (which touches neither store nor backend), per store latency.
  const runs = results.storeLatency.length
    ? results.storeLatency.map((r) => ({
        latencyMs: r.latencyMs,
        hit: r.subjects.hit?.summary.p50,
        l2: r.subjects['hit-l2']?.summary.p50,
        blocked: r.subjects.blocked?.summary.p50,
      }))
    : [{ latencyMs: 0, hit: p50('hit'), l2: p50('hit-l2'), blocked: p50('blocked') }];
  for (const r of runs) {
    const goal = `warm cache hit p50 ≤ blocked-tenant p50 + 0.5 ms (STORE_LATENCY_MS=${r.latencyMs})`;
    if (r.hit === undefined || r.blocked === undefined)
      hot(`warm-hit-${r.latencyMs}`, goal, null, unavailable(find(r.hit === undefined ? 'hit' : 'blocked'), 'hit or blocked'));
    else
      hot(
        `warm-hit-${r.latencyMs}`,
        goal,
        r.hit <= r.blocked + 0.5,
        `hit (${find('hit')?.tier ?? 'tier unknown'}) ${ms(r.hit)} vs blocked ${ms(r.blocked)}: +${ms(r.hit - r.blocked)}; L2 hit ${r.l2 === undefined ? '–' : ms(r.l2)} (at ${results.options.fixedRate} req/s)`,
      );
  }

  const hitRps = mode(results, 'hit', 'saturation')?.summary.rps;
  const peerRps = mode(results, 'peer', 'saturation')?.summary.rps;
  const throughput = ratio(hitRps, peerRps);
  hot(
    'hit-throughput',
    'cache-hit throughput at saturation ≥ 3× the peer pass-through',
    throughput === null ? null : throughput >= 3,
    throughput === null ? unavailable(find(hitRps === undefined ? 'hit' : 'peer'), 'hit or peer') : `${hitRps} req/s vs peer ${peerRps} req/s (${throughput}×)`,
  );

  const [miss, adapter, peer, direct] = [p50('miss'), p50('adapter'), p50('peer'), p50('direct')];
  if (miss === undefined || adapter === undefined || peer === undefined || direct === undefined)
    hot('edge-share', "the edge's own share of a miss ≤ 0.5× the peer's added p50", null, 'miss, adapter, peer or direct not measured');
  else {
    const share = miss - adapter;
    const peerAdded = peer - direct;
    hot(
      'edge-share',
      "the edge's own share of a miss (gateway miss − Lambda host + adapter alone) ≤ 0.5× the peer's added p50",
      share <= 0.5 * peerAdded,
      `miss ${ms(miss)} − adapter ${ms(adapter)} = ${ms(share)} vs 0.5 × peer's ${ms(peerAdded)} = ${ms(0.5 * peerAdded)}`,
    );
  }

  const cpu = results.cpu;
  hot(
    'edge-cpu',
    "edge CPU time per request ≤ the Lambda host's, during the miss saturation runs",
    cpu ? cpu.edgeCpuMsPerRequest <= cpu.lambdaHostCpuMsPerRequest : null,
    cpu
      ? `workerd ${cpu.edgeCpuMsPerRequest} ms vs Lambda host ${cpu.lambdaHostCpuMsPerRequest} ms of CPU per request (${cpu.edgeCpuSeconds} s vs ${cpu.lambdaHostCpuSeconds} s over ${cpu.requests} requests, /proc/<pid>/stat)`
      : 'CPU not measured (no /proc, or no miss saturation run)',
  );

  const ttft = (id: string) => results.streaming.find((s) => s.id === id)?.ttft?.p50;
  const [ttftGateway, ttftAdapter] = [ttft('gateway'), ttft('adapter')];
  hot(
    'stream-ttft',
    'streaming first token ≤ the Lambda host + adapter alone + 1 ms',
    ttftGateway === undefined || ttftAdapter === undefined ? null : ttftGateway <= ttftAdapter + 1,
    ttftGateway === undefined || ttftAdapter === undefined
      ? 'streaming not measured'
      : `gateway TTFT p50 ${ms(ttftGateway)} vs adapter alone ${ms(ttftAdapter)}: +${ms(ttftGateway - ttftAdapter)}`,
  );

  const cs = results.coalescedStreaming;
  const leader = cs?.leader?.p50;
  const follower = cs?.followers?.p50;
  hot(
    'coalesced-ttft',
    "a coalesced follower's first token ≤ the leader's + 5 ms",
    leader === undefined || follower === undefined ? null : follower <= leader + 5,
    leader === undefined || follower === undefined
      ? (cs?.failure ?? 'coalesced streams not measured (no leader or no follower seen)')
      : `followers TTFT p50 ${ms(follower)} vs leader ${ms(leader)}: +${ms(follower - leader)} (${cs!.trials} × ${cs!.concurrent} streams; ${JSON.stringify(cs!.answers)})`,
  );

  const sc = results.storeCommands;
  if (!sc || sc.steady.length === 0)
    hot('rate-limit-commands', 'rate-limit store commands per admitted request ≤ 0.2, 0 on the critical path', null, 'store commands not counted');
  else {
    const steady = sc.steady.map(
      (s) =>
        `${s.subject}: ${s.perAdmitted['rate-limit']} rate-limit, ${s.perAdmitted['l2-read']} L2 read, ${s.perAdmitted['cache-write']} cache write, ${s.perAdmitted.idempotency} idempotency, ${s.perAdmitted.auth} key/tenant per admitted (${s.admitted} admitted)`,
    );
    const critical = sc.criticalPath.map(
      (c) =>
        `${c.subject} ${c.perRequest['rate-limit']} (limits from ${JSON.stringify(c.limitsFrom)}${c.besideLeaseAdmissions ? `; ${c.besideLeaseAdmissions} refill commands ran beside lease admissions` : ''})`,
    );
    const ok = sc.steady.every((s) => s.perAdmitted['rate-limit'] <= 0.2) && sc.criticalPath.every((c) => c.perRequest['rate-limit'] === 0);
    hot(
      'rate-limit-commands',
      'rate-limit store commands per admitted request at steady load ≤ 0.2, 0 on the critical path of a warm tenant',
      ok,
      `${steady.join('; ')}; rate-limit commands on the critical path per request: ${critical.join(', ')}`,
    );
  }

  for (const window of ['requests per minute', 'tokens per minute'] as const) {
    // Every burst of the window counts: one over the limit misses the goal, however many were exact.
    const bursts = results.locations.filter((x) => x.window === window);
    const l = bursts[0];
    const id = `locations-${window.split(' ')[0]}`;
    const o = results.options;
    const k = l?.locations ?? 3;
    const limit = l?.limit ?? o.locationLimit;
    const rounds = bursts.length > 1 ? `, each of ${bursts.length} bursts` : '';
    const goal = `EDGE_LOCATIONS=${k}: ${l?.sent ?? o.locationRequests} parallel requests against L = ${limit} (${window}) admit ≤ ${limit} and ≥ ${limit - k}${rounds}`;
    const burst = (b: LocationAdmission) =>
      `${b.admitted} admitted (${b.admittedPerLocation.join(' + ')} by location), ${b.refused} refused${Object.keys(b.other).length ? `, other ${JSON.stringify(b.other)}` : ''}, in ${b.wallMs} ms`;
    hot(
      id,
      goal,
      l ? bursts.every((b) => b.admitted <= b.limit && b.admitted >= b.limit - b.locations) : null,
      l ? bursts.map(burst).join('; ') : 'edge locations not measured',
    );
  }

  const n = results.npmStart;
  if (!n?.available) hot('npm-start', "npm start's figures within 1 ms p50 of the bench's edge figures", null, n?.reason ?? 'npm start not measured');
  else {
    const deltas = Object.entries(n.subjects).map(([id, r]) => ({ id, ...npmStartDelta(r) }));
    const signed = (v: number) => `${v >= 0 ? '+' : ''}${ms(v)}`;
    hot(
      'npm-start',
      "npm start's figures (its own gatewayUrl) within 1 ms p50 of the bench's edge figures (median of the rounds' paired differences)",
      deltas.length > 0 && deltas.every((d) => Math.abs(d.decided) <= 1),
      deltas
        .map(
          (d) =>
            `${d.id} ${signed(d.decided)}${d.paired === undefined ? '' : ` over ${d.perRound.length} rounds`} (pooled p50 ${ms(d.npmStart)} vs ${ms(d.bench)}: ${signed(d.npmStart - d.bench)})`,
        )
        .join(', '),
    );
  }
  const usage = usageCostGoalRow(results);
  hot(usage.id, usage.goal, usage.ok, usage.measured);
  return goals;
}

/** Findings the figures themselves support: how a miss's added time splits between edge and adapter. */
export function autoFindings(results: RawResults): string[] {
  const out: string[] = [];
  const p50 = (id: string) => mode(results, id, 'fixed')?.summary.p50;
  const [direct, adapter, miss, missSm, peer] = [p50('direct'), p50('adapter'), p50('miss'), p50('miss-sagemaker'), p50('peer')];
  if (direct !== undefined && adapter !== undefined && miss !== undefined) {
    out.push(
      `Miss path at ${results.options.fixedRate} req/s, p50: ${miss} ms = direct ${direct} ms + Lambda host and ECS adapter ${round(adapter - direct)} ms + the edge itself (auth, limits, cache, SigV4, JSON) ${round(miss - adapter)} ms. ` +
        'In production the adapter hop is a Lambda Function URL call across the network; locally it is a Node process on the same machine.',
    );
  }
  if (missSm !== undefined && miss !== undefined)
    out.push(`Miss via the SageMaker adapter (AWS SDK) minus miss via the ECS adapter, same model server: ${round(missSm - miss)} ms p50.`);
  if (peer !== undefined && direct !== undefined && adapter !== undefined) {
    out.push(
      `The peer adds ${round(peer - direct)} ms p50 with no auth, limits or cache; the edge alone (excluding the adapter hop) adds ${miss !== undefined ? round(miss - adapter) : '–'} ms.`,
    );
  }
  return out;
}

/**
 * How far npm start's p50 sits from the bench stack's for one subject: the median of the rounds'
 * paired differences (each round measures both stacks back to back, so the machine's drift between
 * rounds cancels out), or the pooled p50s' difference for a report without per-round figures.
 */
export function npmStartDelta(r: { readonly bench: ModeResult; readonly npmStart: ModeResult }): {
  readonly bench: number;
  readonly npmStart: number;
  /** Each round's npm start p50 minus its bench p50, in round order. */
  readonly perRound: readonly number[];
  /** The median of {@link perRound}; undefined without per-round figures. */
  readonly paired: number | undefined;
  readonly decided: number;
} {
  const bench = r.bench.summary.p50;
  const npmStart = r.npmStart.summary.p50;
  const perRound = pairedDifferences(r.npmStart.roundP50s ?? [], r.bench.roundP50s ?? []);
  const paired = perRound.length > 0 ? median(perRound) : undefined;
  return { bench, npmStart, perRound, paired, decided: paired ?? npmStart - bench };
}
