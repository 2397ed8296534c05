/**
 * The goals, judged against a run's raw results: each is met, missed, or not measured (a
 * feature that is not there yet, or a phase that was skipped), always with the measured figure.
 * Also the derived comparisons: added latency over the direct floor and ratios against the peer.
 */
import type { RawResults, SubjectResult, ModeName } from './run';
import { ratio, round } from './stats';

export type GoalStatus = 'met' | 'missed' | 'not measured';

export interface Goal {
  readonly id: string;
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

/** Judges every goal of the issue. */
export function judgeGoals(results: RawResults): Goal[] {
  const goals: Goal[] = [];
  const cmp = comparisons(results);
  const find = (id: string) => results.subjects.find((s) => s.id === id);
  const judged = (id: string, goal: string, ok: boolean | null, measured: string): Goal => ({
    id,
    goal,
    status: ok === null ? 'not measured' : ok ? 'met' : 'missed',
    measured,
  });

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

  for (const tier of ['hit-l1', 'hit-l2'] as const) {
    const s = find(tier);
    const fixed = s?.modes.fixed?.summary;
    goals.push(
      fixed
        ? judged(
            `${tier}-p50`,
            `cache hit (${tier === 'hit-l1' ? 'L1' : 'L2'}) p50 ≤ 1 ms`,
            fixed.p50 <= 1,
            `p50 ${fixed.p50} ms at ${results.options.fixedRate} req/s`,
          )
        : judged(`${tier}-p50`, `cache hit (${tier === 'hit-l1' ? 'L1' : 'L2'}) p50 ≤ 1 ms`, null, unavailable(s, tier)),
    );
  }
  const hitSat = cmp.find((c) => c.subject === 'hit-l1' && c.mode === 'saturation');
  goals.push(
    hitSat?.rpsVsPeer != null
      ? judged(
          'hit-throughput',
          'cache-hit throughput ≥ 3× the peer pass-through',
          hitSat.rpsVsPeer >= 3,
          `${mode(results, 'hit-l1', 'saturation')?.summary.rps} req/s vs peer ${mode(results, 'peer', 'saturation')?.summary.rps} req/s (${hitSat.rpsVsPeer}×)`,
        )
      : judged(
          'hit-throughput',
          'cache-hit throughput ≥ 3× the peer pass-through',
          null,
          find('hit-l1')?.available ? unavailable(find('peer'), 'peer') : unavailable(find('hit-l1'), 'hit-l1'),
        ),
  );

  const sd = results.streaming.find((s) => s.id === 'direct')?.ttft;
  const sg = results.streaming.find((s) => s.id === 'gateway')?.ttft;
  goals.push(
    sd && sg
      ? judged(
          'stream-ttft',
          'streaming first-token overhead ≤ 1 ms',
          sg.p50 - sd.p50 <= 1,
          `gateway TTFT p50 ${sg.p50} ms vs direct ${sd.p50} ms: +${round(sg.p50 - sd.p50)} ms`,
        )
      : judged('stream-ttft', 'streaming first-token overhead ≤ 1 ms', null, 'streaming not measured'),
  );

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
