/**
 * What the local metrics sink accepts, turned into datapoints: a CloudWatch PutMetricData request
 * in the Query protocol (form-encoded, `MetricData.member.N.*`), checked against the API's limits
 * the way CloudWatch refuses it, and CloudWatch Embedded Metric Format lines as Powertools prints
 * them on stdout (`_aws.CloudWatchMetrics`: namespace, dimension sets, metric names; values as
 * root members, a number or an array).
 */
import type { Datapoint } from './store';

/** PutMetricData limits CloudWatch enforces. */
export const LIMITS = { maxDatums: 1000, maxValuesPerDatum: 150, maxDimensions: 30, maxPayloadBytes: 1_000_000 } as const;

/** A request CloudWatch would refuse: its error code and message. */
export class PutMetricDataError extends Error {
  override readonly name = 'PutMetricDataError';
  constructor(
    readonly code: 'InvalidParameterValue' | 'MissingParameter' | 'InvalidAction' | 'RequestEntityTooLarge',
    message: string,
  ) {
    super(message);
  }
}

interface DatumFields {
  MetricName?: string;
  Timestamp?: string;
  Unit?: string;
  Value?: string;
  dims: Map<number, { Name?: string; Value?: string }>;
  values: Map<number, string>;
  counts: Map<number, string>;
}

/** Parses and validates a PutMetricData Query request body into datapoints. */
export function parsePutMetricData(body: string, receivedAt: number): Datapoint[] {
  if (Buffer.byteLength(body) > LIMITS.maxPayloadBytes) throw new PutMetricDataError('RequestEntityTooLarge', `payload over ${LIMITS.maxPayloadBytes} bytes`);
  const form = new URLSearchParams(body);
  if (form.get('Action') !== 'PutMetricData') throw new PutMetricDataError('InvalidAction', `unsupported action ${form.get('Action') ?? '(none)'}`);
  const namespace = form.get('Namespace');
  if (!namespace) throw new PutMetricDataError('MissingParameter', 'The parameter Namespace is required.');
  const datums = new Map<number, DatumFields>();
  for (const [key, value] of form) {
    const m = /^MetricData\.member\.(\d+)\.(.+)$/.exec(key);
    if (!m) continue;
    const n = Number(m[1]);
    let d = datums.get(n);
    if (!d) {
      d = { dims: new Map(), values: new Map(), counts: new Map() };
      datums.set(n, d);
    }
    const field = m[2]!;
    const dim = /^Dimensions\.member\.(\d+)\.(Name|Value)$/.exec(field);
    const list = /^(Values|Counts)\.member\.(\d+)$/.exec(field);
    if (dim) {
      const i = Number(dim[1]);
      d.dims.set(i, { ...d.dims.get(i), [dim[2]!]: value });
    } else if (list) (list[1] === 'Values' ? d.values : d.counts).set(Number(list[2]), value);
    else if (field === 'MetricName' || field === 'Timestamp' || field === 'Unit' || field === 'Value') d[field] = value;
  }
  if (datums.size === 0) throw new PutMetricDataError('MissingParameter', 'The parameter MetricData is required.');
  if (datums.size > LIMITS.maxDatums)
    throw new PutMetricDataError('InvalidParameterValue', `The collection MetricData must not have a size greater than ${LIMITS.maxDatums}.`);
  return [...datums.values()].map((d) => {
    if (!d.MetricName) throw new PutMetricDataError('MissingParameter', 'The parameter MetricData.member.N.MetricName is required.');
    if (d.values.size > LIMITS.maxValuesPerDatum)
      throw new PutMetricDataError('InvalidParameterValue', `The collection Values must not have a size greater than ${LIMITS.maxValuesPerDatum}.`);
    if (d.dims.size > LIMITS.maxDimensions) throw new PutMetricDataError('InvalidParameterValue', `too many dimensions on ${d.MetricName}`);
    if (d.counts.size > 0 && d.counts.size !== d.values.size)
      throw new PutMetricDataError('InvalidParameterValue', 'The arrays Values and Counts must be of the same size.');
    const dimensions: Record<string, string> = {};
    for (const { Name, Value } of d.dims.values()) {
      if (!Name || !Value) throw new PutMetricDataError('InvalidParameterValue', `dimension without a name or value on ${d.MetricName}`);
      dimensions[Name] = Value;
    }
    const ordered = (map: Map<number, string>) => [...map.entries()].sort(([a], [b]) => a - b).map(([, v]) => Number(v));
    const values = d.values.size ? ordered(d.values) : d.Value !== undefined ? [Number(d.Value)] : [];
    const counts = d.counts.size ? ordered(d.counts) : values.map(() => 1);
    if (values.length === 0 || [...values, ...counts].some((v) => !Number.isFinite(v))) {
      throw new PutMetricDataError('InvalidParameterValue', `${d.MetricName}: a datum needs finite Value or Values`);
    }
    const timestamp = d.Timestamp ? Date.parse(d.Timestamp) : receivedAt;
    if (Number.isNaN(timestamp)) throw new PutMetricDataError('InvalidParameterValue', `${d.MetricName}: bad Timestamp ${d.Timestamp}`);
    return { namespace, metric: d.MetricName, dimensions, timestamp, values, counts, ...(d.Unit ? { unit: d.Unit } : {}), source: 'put-metric-data' as const };
  });
}

interface EmfDirective {
  Namespace?: unknown;
  Dimensions?: unknown;
  Metrics?: unknown;
}

/** The datapoints of one EMF line; undefined when the line is not an EMF document. */
export function parseEmfLine(line: string): Datapoint[] | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{') || !trimmed.includes('"_aws"')) return undefined;
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const aws = doc._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (!aws || !Array.isArray(aws.CloudWatchMetrics)) return undefined;
  const timestamp = typeof aws.Timestamp === 'number' ? aws.Timestamp : Date.now();
  const points: Datapoint[] = [];
  for (const directive of aws.CloudWatchMetrics as EmfDirective[]) {
    if (typeof directive.Namespace !== 'string' || !Array.isArray(directive.Metrics)) continue;
    const sets = Array.isArray(directive.Dimensions) && directive.Dimensions.length ? (directive.Dimensions as unknown[]) : [[]];
    for (const metric of directive.Metrics as Array<{ Name?: unknown; Unit?: unknown }>) {
      if (typeof metric.Name !== 'string') continue;
      const raw = doc[metric.Name];
      const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
      if (values.length === 0) continue;
      for (const set of sets) {
        if (!Array.isArray(set)) continue;
        const dimensions: Record<string, string> = {};
        for (const name of set) if (typeof name === 'string' && typeof doc[name] === 'string') dimensions[name] = doc[name];
        points.push({
          namespace: directive.Namespace,
          metric: metric.Name,
          dimensions,
          timestamp,
          values,
          counts: values.map(() => 1),
          ...(typeof metric.Unit === 'string' ? { unit: metric.Unit } : {}),
          source: 'emf',
        });
      }
    }
  }
  return points;
}
