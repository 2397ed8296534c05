/**
 * Dynamic batching of embedding inputs within an isolate: concurrent callers for the same batch key
 * (model, priority tier, dimensions) join one open batch until it holds `maxBatchInputs` inputs or
 * `flushMs` has passed since it opened; then one backend call embeds it, and each caller gets its
 * own vectors back, in order, with its share of the call's tokens (apportion.ts).
 *
 * workerd: a request must never await a promise another request settles (cross-request.ts). So the
 * caller that opens a batch owns it: the wait and the backend call run in its request (registered
 * with its `waitUntil`, so they finish for the others even when the owner's client leaves), and
 * every other member only reads plain data, the outcome the owner writes into its slot, by polling
 * on its own timers. A member that aborts or passes its deadline before the batch is sent is dropped
 * from it; after that, its result is ignored. A failed call gives each of its members the error
 * (the routing policy already retried it); other batches are not affected.
 */
import type { EmbeddingInput } from '../../../shared/contracts/embeddings';
import { ApiError } from '../../errors';
import { pollUntil } from '../cross-request';
import { apportion } from './apportion';

/** What one backend call of a batch answers. */
export interface BatchAnswer {
  readonly vectors: readonly (readonly number[])[];
  readonly promptTokens: number;
}

/** One caller's request to the batcher. */
export interface BatchRequest {
  readonly key: string;
  readonly inputs: readonly EmbeddingInput[];
  /** Per input, its estimated tokens: how a call's usage is apportioned among its members. */
  readonly weights: readonly number[];
  readonly maxBatchInputs: number;
  readonly flushMs: number;
  /** The caller's deadline (ms from now): past it, a TIMEOUT. */
  readonly deadlineMs: number;
  readonly signal?: AbortSignal | undefined;
  /** The backend call of a batch this caller owns, run in this caller's request. */
  readonly send: (inputs: EmbeddingInput[]) => Promise<BatchAnswer>;
  /** The caller's `waitUntil`: an owned batch finishes even if the caller leaves. */
  readonly background: (work: Promise<unknown>) => void;
  /** Told once per batch sent: its inputs and how long it stayed open (ms). */
  readonly onSend?: (inputs: number, waitedMs: number) => void;
}

/** A caller's vectors (one per input, in order), its share of the tokens, and how many batches carried them. */
export interface BatchedResult {
  readonly vectors: number[][];
  readonly promptTokens: number;
  readonly batches: number;
}

interface Member {
  readonly inputs: readonly EmbeddingInput[];
  readonly weight: number;
  dropped: boolean;
  outcome?: { readonly vectors: number[][]; readonly promptTokens: number } | { readonly error: unknown };
}

interface Batch {
  readonly key: string;
  readonly openedAt: number;
  readonly members: Member[];
  size: number;
  sealed: boolean;
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

export class EmbeddingBatcher {
  // Outlives a request on purpose: the open batch per key is what concurrent requests join.
  readonly #open = new Map<string, Batch>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Batches currently open for joining (for tests and metrics). */
  get openBatches(): number {
    return this.#open.size;
  }

  /** Embeds the caller's inputs through the shared batches; throws ApiError (TIMEOUT, the call's error) or the abort. */
  async embed(req: BatchRequest): Promise<BatchedResult> {
    const started = this.#now();
    const parts: Array<{ member: Member; owned?: Promise<void> }> = [];
    let offset = 0;
    while (offset < req.inputs.length) {
      let batch = this.#open.get(req.key);
      const owner = !batch;
      if (!batch) {
        batch = { key: req.key, openedAt: this.#now(), members: [], size: 0, sealed: false };
        this.#open.set(req.key, batch);
      }
      const take = Math.min(req.maxBatchInputs - batch.size, req.inputs.length - offset);
      const member: Member = { inputs: req.inputs.slice(offset, offset + take), weight: sum(req.weights.slice(offset, offset + take)), dropped: false };
      batch.members.push(member);
      batch.size += take;
      offset += take;
      if (batch.size >= req.maxBatchInputs) this.#seal(batch);
      const owned = owner ? this.#flush(batch, req) : undefined;
      if (owned) req.background(owned);
      parts.push({ member, ...(owned ? { owned } : {}) });
    }
    try {
      const results = [];
      for (const part of parts) results.push(await this.#wait(part.member, part.owned, req, started));
      return { vectors: results.flatMap((r) => r.vectors), promptTokens: sum(results.map((r) => r.promptTokens)), batches: parts.length };
    } finally {
      // Whatever this caller does not wait for any more leaves the batches not yet sent.
      for (const part of parts) if (!part.member.outcome) part.member.dropped = true;
    }
  }

  #seal(batch: Batch): void {
    batch.sealed = true;
    if (this.#open.get(batch.key) === batch) this.#open.delete(batch.key);
  }

  /** The owner's half: hold the batch open, then send it and write each member's outcome. */
  async #flush(batch: Batch, req: BatchRequest): Promise<void> {
    if (!batch.sealed) await pollUntil(() => batch.sealed, req.flushMs);
    this.#seal(batch);
    const live = batch.members.filter((m) => !m.dropped);
    if (live.length === 0) return;
    const inputs = live.flatMap((m) => [...m.inputs]);
    req.onSend?.(inputs.length, this.#now() - batch.openedAt);
    try {
      const answer = await req.send(inputs);
      if (answer.vectors.length !== inputs.length) throw new ApiError('UPSTREAM_ERROR', 'the backend answered a different number of vectors than inputs');
      const shares = apportion(
        answer.promptTokens,
        live.map((m) => m.weight),
      );
      let at = 0;
      live.forEach((member, i) => {
        member.outcome = { vectors: answer.vectors.slice(at, at + member.inputs.length).map((v) => [...v]), promptTokens: shares[i]! };
        at += member.inputs.length;
      });
    } catch (error) {
      for (const member of live) member.outcome = { error };
    }
  }

  /** One part's outcome: the owner resumes on its own flush, the others look on their own timers. */
  async #wait(member: Member, owned: Promise<void> | undefined, req: BatchRequest, started: number): Promise<{ vectors: number[][]; promptTokens: number }> {
    const left = req.deadlineMs - (this.#now() - started);
    const ready = () => member.outcome !== undefined;
    const arrived = owned
      ? await Promise.race([owned.then(() => true), pollUntil(ready, Math.max(0, left), req.signal)])
      : await pollUntil(ready, Math.max(0, left), req.signal);
    const outcome = member.outcome;
    if (!arrived || !outcome) {
      member.dropped = true;
      if (req.signal?.aborted)
        throw req.signal.reason instanceof ApiError ? req.signal.reason : new ApiError('UPSTREAM_ERROR', 'request cancelled', { status: 503 });
      throw new ApiError('TIMEOUT', `the embeddings did not arrive within ${req.deadlineMs} ms`);
    }
    if ('error' in outcome) throw outcome.error;
    return outcome;
  }
}
