/**
 * The bench's output: one JSON document (raw results, comparisons, goals, findings) and the same as
 * markdown tables, written to `bench/results/latest.{json,md}`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { comparisons, judgeGoals, type Comparison, type Goal } from './goals';
import type { RawResults } from './run';
import { round } from './stats';

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
      "The edge is the `wrangler deploy` bundle in Miniflare's workerd, measured on each worker's direct socket (no `wrangler dev` proxy, no entry worker). " +
      "Latencies are autocannon's per-response times in ms (load generator in its own process).",
    '',
  );

  out.push('## Goals', '', row(['goal', 'status', 'measured']), row(['---', '---', '---']));
  for (const g of r.goals) out.push(row([g.goal, g.status === 'met' ? '**met**' : g.status === 'missed' ? '**missed**' : 'not measured', g.measured]));
  out.push('');

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
  const notes = r.subjects.filter((s) => s.note).map((s) => `- ${s.id}: ${s.note}`);
  if (notes.length) out.push('Headers seen when checking each path:', '', ...notes, '');

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

/** Writes `latest.json` and `latest.md` to `dir`; returns their paths. */
export async function writeReport(report: BenchReport, dir: string): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const markdown = join(dir, 'latest.md');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(markdown, toMarkdown(report));
  return { json, markdown };
}
