/**
 * A cached answer, as the chunks the model produced plus its usage and finish reason. One shape
 * for both surfaces: a sync answer is its output as one chunk; a stream is its token texts. Replay
 * is timing-independent: the chunks are emitted at once, in order, then `done`. A stored entry
 * carries the instant it expires, so every tier that holds it (L0, L1, L2) lets it go at the same
 * moment, whichever tier it was promoted from.
 */
import * as z from 'zod';
import type { BackendInferResponse, BackendStreamEvent } from '../../../shared/contracts/backend';
import { FinishReasonSchema } from '../../../shared/contracts/backend';
import { UsageSchema } from '../../../shared/contracts/infer';

export const CacheEntrySchema = z.object({
  v: z.literal(1),
  chunks: z.array(z.string()),
  usage: UsageSchema,
  finishReason: FinishReasonSchema.optional(),
  modelLatencyMs: z.number().nonnegative(),
  /** Epoch ms when the entry expires, set when it is first stored (entries written before it existed lack it). */
  expiresAt: z.number().optional(),
});

export type CacheEntry = z.infer<typeof CacheEntrySchema>;

/** Largest entry worth caching (bytes of JSON); bigger answers are served but not stored. */
export const MAX_ENTRY_BYTES = 512 * 1024;

export function entryFromResult(result: BackendInferResponse): CacheEntry {
  return { v: 1, chunks: [result.output], usage: result.usage, finishReason: result.finish_reason, modelLatencyMs: result.model_latency_ms };
}

export function resultFromEntry(entry: CacheEntry): BackendInferResponse {
  return {
    output: entry.chunks.join(''),
    usage: entry.usage,
    model_latency_ms: entry.modelLatencyMs,
    ...(entry.finishReason ? { finish_reason: entry.finishReason } : {}),
  };
}

/** The entry replayed as backend stream events: every chunk as a token, then done. */
export async function* replayEvents(entry: CacheEntry): AsyncGenerator<BackendStreamEvent, void, undefined> {
  for (const text of entry.chunks) yield { event: 'token', data: { text } };
  yield {
    event: 'done',
    data: { usage: entry.usage, model_latency_ms: entry.modelLatencyMs, ...(entry.finishReason ? { finish_reason: entry.finishReason } : {}) },
  };
}

/** What {@link recordStream} tells as the stream passes. */
export interface StreamRecorder {
  /** Each token's text, before it is forwarded (live fan-out to coalesced followers). */
  readonly onToken?: (text: string) => void;
  /** The whole entry when `done` arrives, before it is forwarded. */
  readonly onComplete: (entry: CacheEntry) => void;
  /** The stream erred, was cut, or the client left first. */
  readonly onIncomplete: () => void;
}

/**
 * Passes a backend stream (which ends after its final event, see upstream.ts) through unchanged
 * while recording it. Exactly one of `onComplete` and `onIncomplete` is called.
 */
export async function* recordStream(
  events: AsyncGenerator<BackendStreamEvent, void, undefined>,
  recorder: StreamRecorder,
): AsyncGenerator<BackendStreamEvent, void, undefined> {
  const chunks: string[] = [];
  let settled = false;
  try {
    for await (const event of events) {
      if (event.event === 'token') {
        chunks.push(event.data.text);
        recorder.onToken?.(event.data.text);
      } else if (event.event === 'done') {
        settled = true;
        recorder.onComplete({ v: 1, chunks, usage: event.data.usage, finishReason: event.data.finish_reason, modelLatencyMs: event.data.model_latency_ms });
      }
      yield event;
    }
  } finally {
    if (!settled) recorder.onIncomplete();
  }
}
