/**
 * The local dashboard page: the widgets of shared/dashboard-definition.ts (the same definition the
 * CDK dashboard is built from) drawn from the sink's datapoints as server-rendered HTML with inline
 * SVG line charts, one-minute buckets over a recent window. No framework, no external assets.
 * Every legend row carries its window value in `data-value` so tests can read the numbers.
 */
import {
  adapterEmfWidgets,
  edgeDashboardWidgets,
  type DashboardSeries,
  type DashboardWidgetSpec,
  type EdgeMetricSeries,
} from '../../shared/dashboard-definition';
import { AdapterDimension, adapterNamespace, AdapterMetric, EDGE_NAMESPACE, EdgeDimension } from '../../shared/metrics-catalog';
import { statistic, type Datapoint, type MetricStore } from './store';

/** What to draw. */
export interface PageOptions {
  /** The `Environment` dimension (and the adapters' namespace suffix). */
  readonly environment: string;
  readonly now: number;
  /** Window in minutes (one bucket per minute). */
  readonly minutes: number;
  /** Seconds between automatic reloads; 0: none. */
  readonly refreshSeconds: number;
  /** The usage-by-tenant section (tools/metrics-sink/usage.ts), when the sink reads the ledger. */
  readonly usageHtml?: string;
}

/** One drawn line: a value per bucket and one over the whole window. */
interface Line {
  readonly label: string;
  readonly buckets: ReadonlyArray<number | undefined>;
  readonly value: number | undefined;
  /** For rates: the window's total count. */
  readonly total?: number;
  readonly right: boolean;
}

const MINUTE = 60_000;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function format(v: number | undefined): string {
  if (v === undefined) return '—';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(1) : v.toFixed(3);
}

class Evaluator {
  readonly start: number;
  constructor(
    private readonly store: MetricStore,
    private readonly o: PageOptions,
  ) {
    this.start = Math.floor(o.now / MINUTE) * MINUTE - (o.minutes - 1) * MINUTE;
  }

  #bucketed(points: readonly Datapoint[], f: (ps: Datapoint[]) => number | undefined): Array<number | undefined> {
    const buckets: Datapoint[][] = Array.from({ length: this.o.minutes }, () => []);
    for (const p of points) buckets[Math.floor((p.timestamp - this.start) / MINUTE)]?.push(p);
    return buckets.map((ps) => (ps.length ? f(ps) : undefined));
  }

  #line(label: string, points: readonly Datapoint[], stat: string, right: boolean): Line {
    return { label, buckets: this.#bucketed(points, (ps) => statistic(ps, stat)), value: statistic(points, stat), right };
  }

  #edge(s: EdgeMetricSeries): Datapoint[] {
    const dims = s.dimensions ?? {};
    return this.store.select({
      namespace: EDGE_NAMESPACE,
      metric: s.metric,
      dimensionNames: [EdgeDimension.Environment, ...Object.keys(dims)],
      where: { [EdgeDimension.Environment]: this.o.environment, ...dims },
      since: this.start,
    });
  }

  #grouped(points: readonly Datapoint[], names: readonly string[]): Map<string, Datapoint[]> {
    const groups = new Map<string, Datapoint[]>();
    for (const p of points) {
      const key = names.map((n) => p.dimensions[n] ?? '').join(' ');
      groups.set(key, [...(groups.get(key) ?? []), p]);
    }
    return new Map([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  lines(s: DashboardSeries, right: boolean): Line[] {
    switch (s.kind) {
      case 'metric':
        return [this.#line(s.label, this.#edge(s), s.stat, right)];
      case 'breakdown': {
        const points = this.store.select({
          namespace: EDGE_NAMESPACE,
          metric: s.metric,
          dimensionNames: [EdgeDimension.Environment, ...s.by],
          where: { [EdgeDimension.Environment]: this.o.environment },
          since: this.start,
        });
        return [...this.#grouped(points, s.by)].map(([key, ps]) => this.#line(`${s.label} ${key}`, ps, s.stat, right));
      }
      case 'percent': {
        const part = this.#edge(s.part);
        const rest = this.#edge(s.rest);
        const ratio = (p: readonly Datapoint[], r: readonly Datapoint[]) => {
          const a = statistic(p, 'Sum') ?? 0;
          const b = statistic(r, 'Sum') ?? 0;
          return a + b > 0 ? (100 * a) / (a + b) : undefined;
        };
        const bp = this.#bucketed(part, (ps) => statistic(ps, 'Sum') ?? 0);
        const br = this.#bucketed(rest, (ps) => statistic(ps, 'Sum') ?? 0);
        const buckets = bp.map((a, i) => ((a ?? 0) + (br[i] ?? 0) > 0 ? (100 * (a ?? 0)) / ((a ?? 0) + (br[i] ?? 0)) : undefined));
        return [{ label: s.label, buckets, value: ratio(part, rest), right }];
      }
      case 'perSecond': {
        const points = this.#edge(s.of);
        const total = statistic(points, 'Sum');
        const buckets = this.#bucketed(points, (ps) => (statistic(ps, 'Sum') ?? 0) / 60);
        return [
          { label: s.label, buckets, value: total === undefined ? undefined : total / (this.o.minutes * 60), ...(total === undefined ? {} : { total }), right },
        ];
      }
      case 'adapter': {
        const names: string[] = [AdapterDimension.Service, AdapterDimension.Model, ...(s.metric === AdapterMetric.Errors ? [AdapterDimension.ErrorCode] : [])];
        const points = this.store.select({ namespace: adapterNamespace(this.o.environment), metric: s.metric, dimensionNames: names, since: this.start });
        return [...this.#grouped(points, names)].map(([key, ps]) => {
          const [service, ...rest] = key.split(' ');
          return this.#line(`${service} ${s.label} ${rest.join(' ')}`, ps, s.stat, right);
        });
      }
    }
  }
}

function chart(lines: readonly Line[], annotations: DashboardWidgetSpec['annotations'], minutes: number): string {
  const w = 380;
  const h = 150;
  const pad = 28;
  const scale = (right: boolean) =>
    Math.max(
      1,
      ...lines.filter((l) => l.right === right).flatMap((l) => l.buckets.filter((v): v is number => v !== undefined)),
      ...(right ? [] : (annotations ?? []).map((a) => a.value)),
    );
  const x = (i: number) => pad + (minutes === 1 ? 0 : (i * (w - 2 * pad)) / (minutes - 1));
  const y = (v: number, max: number) => h - pad + 10 - (v / max) * (h - pad - 10);
  const leftMax = scale(false);
  const parts: string[] = [
    `<line x1="${pad}" y1="${h - pad + 10}" x2="${w - pad}" y2="${h - pad + 10}" stroke="#999"/>`,
    `<text x="2" y="14" font-size="10" fill="#666">${format(leftMax)}</text>`,
    `<text x="2" y="${h - pad + 10}" font-size="10" fill="#666">0</text>`,
    `<text x="${pad}" y="${h - 4}" font-size="10" fill="#666">-${minutes - 1} min</text>`,
    `<text x="${w - pad - 20}" y="${h - 4}" font-size="10" fill="#666">now</text>`,
  ];
  for (const a of annotations ?? []) {
    parts.push(
      `<line x1="${pad}" x2="${w - pad}" y1="${y(a.value, leftMax)}" y2="${y(a.value, leftMax)}" stroke="${a.color ?? '#2ca02c'}" stroke-dasharray="4 3"/>`,
    );
    parts.push(`<text x="${w - pad - 90}" y="${y(a.value, leftMax) - 3}" font-size="9" fill="${a.color ?? '#2ca02c'}">${escapeHtml(a.label)}</text>`);
  }
  lines.forEach((l, i) => {
    const max = scale(l.right);
    const color = COLORS[i % COLORS.length];
    const pts = l.buckets.map((v, b) => (v === undefined ? undefined : `${x(b).toFixed(1)},${y(v, max).toFixed(1)}`)).filter(Boolean);
    if (pts.length > 1)
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${l.right ? ' stroke-dasharray="5 2"' : ''} points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [cx, cy] = (p as string).split(',');
      parts.push(`<circle cx="${cx}" cy="${cy}" r="2.5" fill="${color}"/>`);
    }
  });
  return `<svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img">${parts.join('')}</svg>`;
}

function widget(spec: DashboardWidgetSpec, ev: Evaluator, minutes: number): string {
  const lines = [...spec.left.flatMap((s) => ev.lines(s, false)), ...(spec.right ?? []).flatMap((s) => ev.lines(s, true))];
  const rows = lines.length
    ? lines
        .map((l, i) => {
          const total = l.total === undefined ? '' : ` <small>(${format(l.total)} total)</small>`;
          return `<tr data-label="${escapeHtml(l.label)}"><td><span class="swatch" style="background:${COLORS[i % COLORS.length]}"></span>${escapeHtml(l.label)}${l.right ? ' <small>(right)</small>' : ''}</td><td class="value" data-value="${l.value ?? ''}"${l.total === undefined ? '' : ` data-total="${l.total}"`}>${format(l.value)}${total}</td></tr>`;
        })
        .join('')
    : '<tr><td class="empty">no data in this window</td></tr>';
  return `<section class="widget" data-widget="${escapeHtml(spec.title)}"><h3>${escapeHtml(spec.title)}</h3>${chart(lines, spec.annotations, minutes)}<table>${rows}</table></section>`;
}

/** The whole page. */
export function renderDashboard(store: MetricStore, o: PageOptions): string {
  const ev = new Evaluator(store, o);
  const counts = { edge: store.all(EDGE_NAMESPACE).length, adapters: store.all(adapterNamespace(o.environment)).length };
  const section = (title: string, note: string, widgets: readonly DashboardWidgetSpec[]) =>
    `<h2>${escapeHtml(title)}</h2><p class="note">${note}</p><div class="grid">${widgets.map((w) => widget(w, ev, o.minutes)).join('')}</div>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>inference-gateway-${escapeHtml(o.environment)} (local)</title>
${o.refreshSeconds > 0 ? `<meta http-equiv="refresh" content="${o.refreshSeconds}">` : ''}
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:18px;margin:0 0 4px}h2{font-size:15px;margin:18px 0 2px}.note{color:#666;margin:0 0 8px}
.grid{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:10px}
.widget{background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px}.widget h3{font-size:13px;margin:0 0 4px}
table{width:100%;border-collapse:collapse}td{padding:1px 4px}td.value{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}.empty{color:#999}
</style></head><body>
<h1>inference-gateway-${escapeHtml(o.environment)} <small>(local dashboard)</small></h1>
<p class="note">Last ${o.minutes} minutes in one-minute buckets, values over the whole window. Datapoints: ${counts.edge} from the edge (PutMetricData), ${counts.adapters} from the adapters (EMF). Rendered ${new Date(o.now).toISOString()}.</p>
${section(`Edge (${o.environment})`, `Custom metrics the Worker publishes to <code>${EDGE_NAMESPACE}</code>.`, edgeDashboardWidgets())}
${o.usageHtml ?? ''}
${section('Adapters', `The adapters' EMF metrics (<code>${escapeHtml(adapterNamespace(o.environment))}</code>).`, adapterEmfWidgets())}
<h2>Traces</h2><form action="/traces" class="note">One request's spans (edge and adapter) on a timeline: <input name="request_id" placeholder="X-Request-ID" size="44"> <button>show</button></form>
</body></html>`;
}
