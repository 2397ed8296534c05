/**
 * What one `/v1` inference request carries through its stages (edge/stages/chain.ts): the
 * normalised request and planned call, set by `prepare`; the admission in flight, set by `quota`;
 * the headers every answer carries; each token of a live backend stream as it passes (for coalesced
 * followers); and one settlement, announced once when the request's answer is known, so each stage
 * finishes its own work (settle tokens, store the cache entry, release coalesced followers) from the
 * same fact instead of re-reading a response body.
 */
import type { Context } from 'hono';
import type { TokenData } from '../../shared/contracts/backend';
import type { AppEnv } from '../env';
import type { CacheEntry } from '../services/cache/entry';
import type { CachePolicy } from '../services/cache/key';
import type { Admission } from '../services/limits/gate';
import type { AnswerMeta, NormalizedRequest } from '../services/translate';
import type { PlannedCall, UpstreamContext } from '../services/upstream';

/** Where an answer came from. */
export type AnswerSource = 'backend' | 'L0' | 'L1' | 'L2' | 'COALESCED';

/** How a request ended, announced once to every stage that listens. */
export type Settlement =
  /** A complete answer (tokens, usage, finish reason), from the backend or a cache tier. */
  | { readonly kind: 'answered'; readonly entry: CacheEntry; readonly source: AnswerSource }
  /** No answer: the call failed before any output reached the client. */
  | { readonly kind: 'failed' }
  /** A stream that ended without its `done` event (cut upstream, or the client left). */
  | { readonly kind: 'cut' }
  /** The stored answer of an earlier request with the same Idempotency-Key. */
  | { readonly kind: 'replayed' }
  /** The client of a coalesced stream left before its end: no backend work was spent for it. */
  | { readonly kind: 'left' };

/**
 * A miss whose backend call goes out before its cache lookup (services/cache/speculation.ts), set by
 * the response cache stage for the forward stage: the first answer wins.
 */
export interface Speculation {
  /** Aborts the backend call once a hit has answered. */
  readonly signal: AbortSignal;
  /** Starts the lookup (once, after the call went out): a function that answers the hit (and cancels the call), or undefined on a miss. */
  lookup(): Promise<(() => Response | Promise<Response>) | undefined>;
  /** The backend's answer is the one served: the request is a miss. */
  missed(): void;
}

export interface InferenceState {
  readonly req: NormalizedRequest;
  readonly call: PlannedCall;
  readonly upstream: UpstreamContext;
  /** Aborts the upstream call when a streaming client leaves. */
  readonly abort: AbortController;
  readonly meta: Omit<AnswerMeta, 'latencyMs'>;
  /** When the request started (ms, the app's clock). */
  readonly started: number;
  /** The cache's decision and key, known before the quota stage so its read can join the limiters' round trip. */
  readonly cache: { readonly policy: CachePolicy; readonly key: string | undefined };
  /** Headers every answer of this request carries (the limit headers, once admitted). */
  readonly headers: Record<string, string>;
  /** The quota stage's admission in flight; resolves once every window admitted the request. */
  admission?: Promise<Admission>;
  /** Set when the backend call races the lookup (the response cache stage decides). */
  speculation?: Speculation;
  /** Registers a listener for the settlement (listeners run in registration order, once). */
  onSettled(listener: (settlement: Settlement) => void): void;
  /** Announces the settlement; only the first call counts. */
  settle(settlement: Settlement): void;
  /** Registers a listener for each token of the live backend stream, as it passes. */
  onToken(listener: (token: TokenData) => void): void;
  /** Announces a token of the live backend stream. */
  emitToken(token: TokenData): void;
}

export interface InferenceVariables {
  inference: InferenceState;
}

/** The request's inference state; `prepare` set it. */
export const inferenceOf = (c: Context<AppEnv>): InferenceState => c.get('inference');

/** A settlement announcer (listeners run once, in order, for the first settlement only) and a token announcer. */
export function settlementHub(): Pick<InferenceState, 'onSettled' | 'settle' | 'onToken' | 'emitToken'> {
  const listeners: Array<(s: Settlement) => void> = [];
  const tokenListeners: Array<(token: TokenData) => void> = [];
  let settled = false;
  return {
    onSettled: (listener) => {
      listeners.push(listener);
    },
    settle: (settlement) => {
      if (settled) return;
      settled = true;
      for (const listener of listeners) listener(settlement);
    },
    onToken: (listener) => {
      tokenListeners.push(listener);
    },
    emitToken: (token) => {
      for (const listener of tokenListeners) listener(token);
    },
  };
}
