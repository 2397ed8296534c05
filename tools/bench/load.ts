/**
 * Parent side of the load generator: forks load-runner.ts once and sends it one job at a time.
 * A job is an HTTP target plus either a fixed request rate or a number of connections at
 * saturation; the answer carries every latency sample, so rounds of an interleaved run can be merged.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../stack/stack';
import { summarize, type LatencySummary } from './stats';

/** One autocannon run. A body containing `[<id>]` gets a unique id per request (cache misses). */
export interface LoadJob {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly connections: number;
  readonly durationSec: number;
  /** Requests per second across all connections; absent = as fast as the target answers. */
  readonly overallRate?: number;
}

export interface LoadResult {
  /** Latency of every response, ms. */
  readonly samplesMs: number[];
  /** Responses by HTTP status. */
  readonly statuses: Record<string, number>;
  /** Requests sent: those answered and those still in flight when the run ended. */
  readonly sent: number;
  readonly durationSec: number;
  readonly errors: number;
  readonly timeouts: number;
}

/** Messages from parent to runner. */
export type RunnerMessage = { readonly type: 'job'; readonly id: number; readonly job: LoadJob } | { readonly type: 'exit' };
type RunnerReply = { ready: true } | { id: number; result: LoadResult } | { id: number; error: string };

/** A running load generator process. */
export interface LoadGenerator {
  run(job: LoadJob): Promise<LoadResult>;
  stop(): Promise<void>;
}

/** Forks the runner and waits until it is ready. */
export async function startLoadGenerator(): Promise<LoadGenerator> {
  const child: ChildProcess = fork(join(REPO_ROOT, 'tools/bench/load-runner.ts'), [], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (r: LoadResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    for (const { reject } of pending.values()) reject(new Error('the load generator exited'));
    pending.clear();
  });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the load generator exited with code ${code} before it was ready`)));
    child.on('message', (reply: RunnerReply) => {
      if ('ready' in reply) return resolve();
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if (!waiter) return;
      if ('error' in reply) waiter.reject(new Error(reply.error));
      else waiter.resolve(reply.result);
    });
  });
  return {
    run(job) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ type: 'job', id, job } satisfies RunnerMessage);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: 'exit' } satisfies RunnerMessage);
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One subject's figures in one mode: latency over every response, statuses, and what was off. */
export interface ModeResult {
  readonly summary: LatencySummary;
  readonly statuses: Record<string, number>;
  /** Responses whose status was not the subject's expected one, plus errors and timeouts. */
  readonly unexpected: number;
  /** Each round's own p50 (ms), in the order the rounds ran (absent from reports written before it was kept). */
  readonly roundP50s?: readonly number[];
}

/** Adds up the load runs of one subject in one mode (rounds of an interleaved run). */
export class LoadTally {
  readonly #samples: number[] = [];
  readonly #roundP50s: number[] = [];
  readonly #statuses: Record<string, number> = {};
  #seconds = 0;
  #unexpected = 0;

  constructor(readonly expectStatus: number) {}

  add(run: LoadResult): void {
    this.#samples.push(...run.samplesMs);
    this.#roundP50s.push(summarize(run.samplesMs, run.durationSec).p50);
    this.#seconds += run.durationSec;
    for (const [status, n] of Object.entries(run.statuses)) {
      this.#statuses[status] = (this.#statuses[status] ?? 0) + n;
      if (Number(status) !== this.expectStatus) this.#unexpected += n;
    }
    this.#unexpected += run.errors + run.timeouts;
  }

  result(): ModeResult {
    return {
      summary: summarize(this.#samples, this.#seconds),
      statuses: { ...this.#statuses },
      unexpected: this.#unexpected,
      roundP50s: [...this.#roundP50s],
    };
  }
}
