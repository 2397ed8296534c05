/**
 * Flushes the isolate's aggregated metrics to CloudWatch (or the local metrics sink) with
 * PutMetricData, SigV4-signed (sigv4.ts, service `monitoring`). Called from `waitUntil` after a
 * response: at most one flush per interval per isolate and never two at once; a flush never throws.
 * A failed request's datums are retried with the next flush, at most {@link MAX_ATTEMPTS} times and
 * at most {@link MAX_PENDING_DATUMS} of them, then dropped with a logged warning.
 */
import { EDGE_NAMESPACE } from '../../shared/metrics-catalog';
import type { Config } from '../env';
import type { IsolateMetrics } from './metrics';
import { batchPutMetricData, PUT_METRIC_DATA_LIMITS, toDatums, type MetricDatum, type PutMetricDataLimits } from './put-metric-data';
import { log } from './log';
import { signerFor } from './sigv4';

/** Attempts per datum (the first send and two retries). */
export const MAX_ATTEMPTS = 3;
/** Datums kept for retry across flushes. */
export const MAX_PENDING_DATUMS = 5_000;
/** How long one PutMetricData call may take. */
const SEND_TIMEOUT_MS = 10_000;

/** Where and as whom to publish. */
export interface FlushTarget {
  /** CloudWatch endpoint (`https://monitoring.<region>.amazonaws.com`) or the local sink's URL. */
  readonly endpoint: string;
  /** The `Environment` dimension. */
  readonly environment: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string | undefined };
  /** Minimum time between two flushes of this isolate. */
  readonly intervalMs: number;
}

/** Where this config publishes: CloudWatch in its region unless `METRICS_ENDPOINT` names another; none when `off`. */
export function flushTargetFor(config: Config): FlushTarget | undefined {
  if (config.metrics.endpoint === 'off') return undefined;
  return {
    endpoint: config.metrics.endpoint ?? `https://monitoring.${config.aws.region}.amazonaws.com/`,
    environment: config.environment,
    region: config.aws.region,
    credentials: config.aws,
    intervalMs: config.metrics.flushIntervalMs,
  };
}

/** Sends one request body; rejects on a transport error or a non-2xx answer. */
export type SendPutMetricData = (body: string, target: FlushTarget) => Promise<void>;

/** What one flush did. */
export interface FlushReport {
  readonly requests: number;
  readonly sentDatums: number;
  readonly failedRequests: number;
  /** Datums kept for the next flush. */
  readonly pendingDatums: number;
  /** Datums given up on (attempts exhausted or the pending bound reached). */
  readonly droppedDatums: number;
}

export interface MetricsFlusherOptions {
  readonly metrics: IsolateMetrics;
  /** Clock in ms; injectable for tests. */
  readonly now?: () => number;
  readonly send?: SendPutMetricData;
  readonly namespace?: string;
  readonly limits?: PutMetricDataLimits;
}

/** PutMetricData over HTTPS with SigV4 (sigv4.ts), Query protocol. */
export const sendWithSigV4: SendPutMetricData = async (body, target) => {
  const client = signerFor(target.credentials, target.region, 'monitoring');
  const res = await client.fetch(target.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
    signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`PutMetricData answered ${res.status}: ${text.slice(0, 200)}`);
};

/** One isolate's flusher: interval gate, batching, bounded retries. */
export class MetricsFlusher {
  readonly #metrics: IsolateMetrics;
  readonly #now: () => number;
  readonly #send: SendPutMetricData;
  readonly #namespace: string;
  readonly #limits: PutMetricDataLimits;
  #lastFlushAt = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<FlushReport> | undefined;
  #pending: Array<{ datum: MetricDatum; attempts: number }> = [];

  constructor(options: MetricsFlusherOptions) {
    this.#metrics = options.metrics;
    this.#now = options.now ?? Date.now;
    this.#send = options.send ?? sendWithSigV4;
    this.#namespace = options.namespace ?? EDGE_NAMESPACE;
    this.#limits = options.limits ?? PUT_METRIC_DATA_LIMITS;
  }

  /** Datums waiting for a retry. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Starts a flush when the interval has passed since the last one and none is running; returns
   * its promise (hand it to `waitUntil`), else undefined. The promise never rejects.
   */
  maybeFlush(target: FlushTarget): Promise<FlushReport> | undefined {
    const now = this.#now();
    if (this.#inFlight || now - this.#lastFlushAt < target.intervalMs) return undefined;
    this.#lastFlushAt = now;
    const flight = this.#flush(target, now).finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = flight;
    return flight;
  }

  async #flush(target: FlushTarget, now: number): Promise<FlushReport> {
    const droppedSeries = this.#metrics.dropped;
    const fresh = toDatums(this.#metrics.drain(), target.environment, now, this.#limits.maxValuesPerDatum).map((datum) => ({ datum, attempts: 0 }));
    if (droppedSeries > 0) log('warn', 'metrics series dropped at the isolate bound', { dropped_series: droppedSeries });
    const entries = [...this.#pending, ...fresh];
    this.#pending = [];
    const attempts = new Map(entries.map((e) => [e.datum, e.attempts]));
    const batches = batchPutMetricData(
      entries.map((e) => e.datum),
      this.#namespace,
      this.#limits,
    );
    let sentDatums = 0;
    let failedRequests = 0;
    let droppedDatums = entries.length - batches.reduce((n, b) => n + b.datums.length, 0);
    for (const batch of batches) {
      try {
        await this.#send(batch.body, target);
        sentDatums += batch.datums.length;
      } catch (err) {
        failedRequests++;
        log('warn', 'metrics flush failed; retrying with the next flush', {
          datums: batch.datums.length,
          reason: err instanceof Error ? err.message : String(err),
        });
        for (const datum of batch.datums) {
          const tried = (attempts.get(datum) ?? 0) + 1;
          if (tried < MAX_ATTEMPTS) this.#pending.push({ datum, attempts: tried });
          else droppedDatums++;
        }
      }
    }
    if (this.#pending.length > MAX_PENDING_DATUMS) {
      droppedDatums += this.#pending.length - MAX_PENDING_DATUMS;
      this.#pending = this.#pending.slice(-MAX_PENDING_DATUMS);
    }
    if (droppedDatums > 0) log('warn', 'metrics datums dropped', { dropped_datums: droppedDatums });
    return { requests: batches.length, sentDatums, failedRequests, pendingDatums: this.#pending.length, droppedDatums };
  }
}
