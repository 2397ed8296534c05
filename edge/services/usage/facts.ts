/**
 * What the usage ledger knows about one request while it runs: the facts the stages put here as
 * they learn them, read once by the recorder (edge/middleware/usage.ts) when the request has
 * ended. Route-agnostic: any route fills the fields it knows. The inference chain binds them to its
 * settlement (stages/usage.ts); another route sets them directly, e.g. an embeddings route whose
 * inputs were partly cached sets `cache = 'PARTIAL'`, the client-visible `promptTokens`, and the
 * `backendPromptTokens` of the inputs it really sent, before it answers.
 */
import type { CacheStatus } from '../../../shared/contracts/usage';

export interface UsageFacts {
  /** The record's id, made by the gateway when the request arrived (never taken from the client). */
  readonly recordId: string;
  /** When the request arrived (ms). */
  readonly startedAt: number;
  model?: string;
  stream?: boolean;
  /** Choices asked for (`n`), default 1. */
  n?: number;
  cache?: CacheStatus;
  /** Tokens the client was given (a cache hit repeats the stored answer's). */
  promptTokens?: number;
  completionTokens?: number;
  /** Tokens a backend spent for this request (0 for a hit, a replay, a refusal). */
  backendPromptTokens?: number;
  backendCompletionTokens?: number;
  /** When the first token left for the client (ms). */
  firstTokenAt?: number;
  /** When the answer was complete, a stream's at its end (ms). */
  endedAt?: number;
  /** Why a stream ended early: its backend failed, or the client left. */
  incomplete?: 'upstream' | 'client';
  /** The record id of the answer an idempotent replay repeats. */
  replayOf?: string;
  /** Resolves when a streamed answer has ended; the recorder waits for it before writing. */
  settled?: Promise<void>;
  /** Another writer owns the record (an async job's, written by its consumer when the job ends). */
  deferred?: boolean;
}

export interface UsageVariables {
  usage: UsageFacts;
}
