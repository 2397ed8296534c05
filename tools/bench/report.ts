/**
 * The bench's output: one JSON document (raw results, comparisons, goals, findings) and the same as
 * markdown tables, written to `bench/results/latest.{json,md}`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { embeddingsMarkdown } from './embeddings';
import { comparisons, judgeGoals, npmStartDelta, type Comparison, type Goal } from './goals';
import type { ModeResult } from './load';
import type { RawResults } from './run';
import { COMMAND_CATEGORIES, type CommandCounts } from './store-commands';
import { round } from './stats';
import { usageCostMarkdown } from './usage-cost';

export interface BenchReport extends RawResults {
  readonly comparisons: Comparison[];
  readonly goals: Goal[];
  /** Where the time goes, written by whoever ran and read the bench (kept across runs by the CLI). */
  readonly findings: string[];
}

/** Adds the derived figures to raw results. */
export function buildReport(raw: RawResults, findings: string[] = []): BenchReport {
  return { ...raw, comparisons: comparisons(raw), goals: judgeGoals(raw), findings };
}

const n = (v: number | null | undefined, unit = '') => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${v}${unit}`);
const kib = (bytes: number) => `${round(bytes / 1024, 1)} KiB`;
const row = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;

/** The report as markdown. */
export function toMarkdown(r: BenchReport): string {
  const out: string[] = [];
  out.push('# Bench results', '');
  out.push(
    `${r.date} · ${r.machine.cpu} × ${r.machine.cores} cores · ${r.machine.memoryGiB} GiB · ${r.machine.os} · Node ${r.machine.node} · run took ${r.runSeconds} s`,
    '',
  );
  out.push(
    `Versions: ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
  );
  const o = r.options;
  out.push(
    `Interleaved: ${o.rounds} rounds × ${o.durationSec} s per subject per mode (order rotated each round), after ${o.warmupSec} s warm-up each. ` +
      `Fixed rate: ${o.fixedRate} req/s over ${o.fixedConnections} connections; saturation: ${o.saturationConnections} connections. ` +
      `Model server during load: ttft ${o.loadLatency.ttftMs} ms, ${o.loadLatency.perTokenMs} ms/token (16 tokens). ` +
      'The edge is the stack `npm start` brings up, measured on its own `gatewayUrl`: the `wrangler deploy` bundle in workerd, each location a worker on its own direct socket ' +
      '(no `wrangler dev` proxy, no entry worker, no inspector); three locations (the load subjects use the first), one store (a private redis-server behind the Upstash bridge), one backend, ' +
      'traces on as in `npm start` (every request sampled: the edge batches its spans per isolate, the adapters flush theirs per invocation, to the local sink on the same cores). ' +
      "Latencies are autocannon's per-response times in ms (load generator in its own process).",
    '',
  );

  const goalTable = (title: string, goals: readonly Goal[]) => {
    out.push(title, '', row(['goal', 'status', 'measured']), row(['---', '---', '---']));
    for (const g of goals) out.push(row([g.goal, g.status === 'met' ? '**met**' : g.status === 'missed' ? '**missed**' : 'not measured', g.measured]));
    out.push('');
  };
  goalTable(
    '## Goals: the hot path (no store round trip on it, exact limits kept, `npm start` as fast as the bench)',
    r.goals.filter((g) => g.group === 'hot-path'),
  );
  goalTable(
    '## Goals: embeddings batching',
    r.goals.filter((g) => g.group === 'embeddings'),
  );
  goalTable(
    '## Earlier goals',
    r.goals.filter((g) => g.group === 'earlier'),
  );

  for (const mode of ['fixed', 'saturation'] as const) {
    out.push(`## Load: ${mode === 'fixed' ? `fixed rate (${o.fixedRate} req/s)` : `saturation (${o.saturationConnections} connections)`}`, '');
    out.push(
      row([
        'subject',
        'p50 ms',
        'p95 ms',
        'p99 ms',
        'req/s',
        'added p50 ms',
        'added p95 ms',
        'added p99 ms',
        'added p50 vs peer',
        'req/s vs peer',
        'responses (status: n)',
      ]),
    );
    out.push(row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---']));
    for (const s of r.subjects) {
      const m = s.modes[mode];
      if (!s.available || !m) {
        out.push(row([s.label, '–', '–', '–', '–', '–', '–', '–', '–', '–', s.reason ?? 'not available']));
        continue;
      }
      const c = r.comparisons.find((x) => x.subject === s.id && x.mode === mode);
      const statuses =
        Object.entries(m.statuses)
          .map(([k, v]) => `${k}: ${v}`)
          .join(', ') + (m.unexpected ? ` (**${m.unexpected} unexpected**)` : '');
      out.push(
        row([
          s.label,
          n(m.summary.p50),
          n(m.summary.p95),
          n(m.summary.p99),
          n(m.summary.rps),
          n(c?.addedP50),
          n(c?.addedP95),
          n(c?.addedP99),
          n(c?.addedP50VsPeer, c?.addedP50VsPeer != null ? '×' : ''),
          n(c?.rpsVsPeer, c?.rpsVsPeer != null ? '×' : ''),
          statuses,
        ]),
      );
    }
    out.push('');
  }
  const notes = r.subjects.filter((s) => s.note).map((s) => `- ${s.id}${s.tier ? ` (warm hits from ${s.tier})` : ''}: ${s.note}`);
  if (notes.length) out.push('Headers seen when checking each path:', '', ...notes, '');

  out.push(...usageCostMarkdown(r));
  scenarioSections(r, out);
  out.push(...embeddingsMarkdown(r.embeddings ?? null));

  out.push(
    '## Store round trips per request (Upstash bridge)',
    '',
    row(['path', 'before the response', 'in all (incl. waitUntil)', 'Redis commands per request']),
    row(['---', '---:', '---:', '---']),
  );
  for (const t of r.roundTrips)
    out.push(
      row([
        t.subject,
        t.beforeResponse,
        t.total,
        Object.entries(t.commands)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '–',
      ]),
    );
  out.push(
    '',
    '"Before the response" counts the bridge\'s requests when the response headers reached the client (sequential requests, a warm isolate); background writes land in the second column.',
    '',
  );

  out.push(
    `## Streaming (model ttft ${o.streamLatency.ttftMs} ms, ${o.streamLatency.perTokenMs} ms/token, 32 tokens, ${o.streamCount} requests each, interleaved)`,
    '',
  );
  out.push(
    row(['subject', 'ok', 'failed', 'TTFT p50', 'TTFT p95', 'total p50', 'total p95', 'first failure']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---']),
  );
  for (const s of r.streaming) out.push(row([s.label, s.ok, s.failed, n(s.ttft?.p50), n(s.ttft?.p95), n(s.total?.p50), n(s.total?.p95), s.failure ?? '']));
  out.push('');

  const cs = r.coalescedStreaming;
  if (cs) {
    out.push(`## Coalesced streams (${cs.trials} trials × ${cs.concurrent} identical concurrent streaming misses)`, '');
    out.push(row(['', 'n', 'TTFT p50', 'TTFT p95']), row(['---', '---:', '---:', '---:']));
    out.push(row(['leader (X-Cache: MISS)', n(cs.leader?.count), n(cs.leader?.p50), n(cs.leader?.p95)]));
    out.push(row(['followers', n(cs.followers?.count), n(cs.followers?.p50), n(cs.followers?.p95)]));
    out.push('', `Answers: ${JSON.stringify(cs.answers)}${cs.failed ? `; ${cs.failed} failed (${cs.failure})` : ''}.`, '');
  }

  const c = r.coalescing;
  if (c) {
    out.push('## Coalescing', '');
    out.push(
      c.available
        ? `${c.concurrent} identical concurrent misses → **${c.backendCalls} backend call(s)** at the model server in ${c.wallMs} ms; statuses ${JSON.stringify(c.statuses)}, X-Cache ${JSON.stringify(c.xCache)}.`
        : `${c.reason} (statuses ${JSON.stringify(c.statuses)}).`,
      '',
    );
  }

  out.push('## Static figures', '', row(['artifact', 'raw', 'gzip', 'cold init (median, min–max)']), row(['---', '---:', '---:', '---']));
  out.push(row(['edge Worker (as deployed)', kib(r.worker.bytes), kib(r.worker.gzipBytes), '–']));
  if (!Number.isNaN(r.worker.minifiedBytes)) out.push(row(['edge Worker (--minify)', kib(r.worker.minifiedBytes), kib(r.worker.minifiedGzipBytes), '–']));
  if (Array.isArray(r.adapters)) {
    for (const a of r.adapters)
      out.push(
        row([
          `${a.adapter} adapter (${a.variant})`,
          kib(a.bytes),
          kib(a.gzipBytes),
          `${round(a.initMsMedian, 1)} ms (${round(a.initMsMin, 1)}–${round(a.initMsMax, 1)})`,
        ]),
      );
  } else if (r.adapters) out.push(row(['adapters', '–', '–', r.adapters.error]));
  out.push('');

  if (r.findings.length) out.push('## Where the time goes', '', ...r.findings.map((f) => `- ${f}`), '');
  return `${out.join('\n')}\n`;
}

const p50Of = (m: ModeResult | undefined) => n(m?.summary.p50);

/** STORE_LATENCY_MS, EDGE_LOCATIONS, npm start, CPU and store commands. */
function scenarioSections(r: BenchReport, out: string[]): void {
  if (r.storeLatency.length) {
    const ids = [...new Set(r.storeLatency.flatMap((x) => Object.keys(x.subjects)))];
    out.push(`## Scenario STORE_LATENCY_MS (fixed rate ${r.options.fixedRate} req/s, ${r.options.scenarioRounds} interleaved rounds)`, '');
    out.push(row(['subject', ...r.storeLatency.flatMap((x) => [`p50 @ ${x.latencyMs} ms`, `p95 @ ${x.latencyMs} ms`])]));
    out.push(row(['---', ...r.storeLatency.flatMap(() => ['---:', '---:'])]));
    for (const id of ids)
      out.push(
        row([
          id,
          ...r.storeLatency.flatMap((x) => [
            p50Of(x.subjects[id]),
            n(x.subjects[id]?.summary.p95) + (x.subjects[id]?.unexpected ? ` (**${x.subjects[id]!.unexpected} unexpected**)` : ''),
          ]),
        ]),
      );
    out.push(
      '',
      'The latency is held at the Upstash bridge before every Redis request (its `latencyMs` knob), as a location far from the store would see it.',
      '',
    );
  }
  if (r.locations.length) {
    out.push('## Scenario EDGE_LOCATIONS (parallel requests round robin over the locations, one tenant, one window)', '');
    out.push(row(['window', 'limit', 'sent', 'locations', 'admitted', 'by location', 'refused (429)', 'other', 'wall ms']));
    out.push(row(['---', '---:', '---:', '---:', '---:', '---', '---:', '---', '---:']));
    for (const l of r.locations)
      out.push(
        row([
          l.window + (l.tokensPerRequest ? ` (${l.tokensPerRequest} tokens reserved per request)` : ''),
          l.limit,
          l.sent,
          l.locations,
          l.admitted,
          l.admittedPerLocation.join(' + '),
          l.refused,
          Object.keys(l.other).length ? JSON.stringify(l.other) : '–',
          l.wallMs,
        ]),
      );
    out.push('');
  }
  const np = r.npmStart;
  if (np) {
    out.push('## `npm start` itself (the launcher as a user runs it, its own gatewayUrl)', '');
    if (!np.available) out.push(`Not measured: ${np.reason}`, '');
    else {
      out.push(
        row([
          'subject',
          'npm start p50',
          'bench stack p50',
          'pooled difference',
          'paired difference (median of rounds)',
          'rounds: npm start − bench p50',
          'npm start p95',
          'bench stack p95',
        ]),
        row(['---', '---:', '---:', '---:', '---:', '---', '---:', '---:']),
      );
      for (const [id, x] of Object.entries(np.subjects)) {
        const d = npmStartDelta(x);
        out.push(
          row([
            id,
            p50Of(x.npmStart),
            p50Of(x.bench),
            n(round(d.npmStart - d.bench)),
            d.paired === undefined ? '–' : n(d.paired),
            d.perRound.length ? d.perRound.map((v) => n(v)).join(', ') : '–',
            n(x.npmStart.summary.p95),
            n(x.bench.summary.p95),
          ]),
        );
      }
      out.push(
        '',
        `\`npm start\` served its edge at ${np.gatewayUrl} (${np.edgeRuntime ?? 'unknown runtime'}); both stacks at ${r.options.fixedRate} req/s, ${r.options.npmStartRounds ?? r.options.scenarioRounds} interleaved rounds of ${r.options.durationSec} s per subject (each round runs both stacks back to back, which goes first alternating), after each npm start subject had 4 s at 16 connections to warm up (the bench's stack has served minutes of load by then). The goal is decided on the paired difference, the median over the rounds of each round's npm start p50 minus its bench p50: both stacks run the same code, and the pooled p50s move with whatever else the two cores were doing in each round.`,
        '',
      );
    }
  }
  if (r.cpu)
    out.push(
      '## CPU per request during the miss saturation runs (/proc/<pid>/stat, user + system)',
      '',
      row(['process', 'CPU s', 'requests', 'CPU ms per request']),
      row(['---', '---:', '---:', '---:']),
      row(['edge (workerd, every location)', r.cpu.edgeCpuSeconds, r.cpu.requests, r.cpu.edgeCpuMsPerRequest]),
      row(['Lambda host (both adapters)', r.cpu.lambdaHostCpuSeconds, r.cpu.requests, r.cpu.lambdaHostCpuMsPerRequest]),
      '',
    );
  const sc = r.storeCommands;
  if (sc) {
    const cells = (c: CommandCounts) => COMMAND_CATEGORIES.map((k) => n(c[k]));
    out.push("## Store commands by purpose (Redis MONITOR on the bench's own Redis)", '');
    out.push(row(['subject', 'admitted', ...COMMAND_CATEGORIES.map((k) => `${k} / admitted`), 'MONITOR total', 'bridge total']));
    out.push(row(['---', '---:', ...COMMAND_CATEGORIES.map(() => '---:'), '---:', '---:']));
    for (const s of sc.steady) out.push(row([`${s.subject} at ${s.rate} req/s`, s.admitted, ...cells(s.perAdmitted), s.monitoredCommands, s.bridgeCommands]));
    out.push(
      '',
      row([
        'subject (one by one)',
        'requests',
        'limits decided from',
        ...COMMAND_CATEGORIES.map((k) => `${k} before the response`),
        'rate-limit beside a lease admission',
      ]),
    );
    out.push(row(['---', '---:', '---', ...COMMAND_CATEGORIES.map(() => '---:'), '---:']));
    for (const c of sc.criticalPath)
      out.push(
        row([
          c.subject,
          c.requests,
          Object.entries(c.limitsFrom)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
          ...cells(c.perRequest),
          c.besideLeaseAdmissions,
        ]),
      );
    out.push(
      '',
      'Commands are filed by key prefix: `gw:rl` rate limits, `gw:cache:` reads (L2) and writes, `gw:idem:` idempotency, `gw:key:`/`gw:tenant:` key and tenant lookups. "Before the response" counts the commands Redis ran between sending a request and its response headers, except rate-limit commands beside a request its leases admitted (`Server-Timing: limits;desc="lease"`): those are refills in the background, counted apart.',
      '',
    );
  }
}

/** Writes `latest.json` and `latest.md` to `dir`; returns their paths. */
export async function writeReport(report: BenchReport, dir: string): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const markdown = join(dir, 'latest.md');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(markdown, toMarkdown(report));
  return { json, markdown };
}
