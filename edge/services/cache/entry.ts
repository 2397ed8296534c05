/**
 * A cached answer, as the chunks the model produced plus its usage and finish reason. One shape
 * for both surfaces: a sync answer is its output as one chunk (and its tool calls as one more); a
 * stream is its tokens as they came: a text chunk is a string, a chunk with tool-call fragments the
 * token event's data, so a replay sends the fragments exactly as the model streamed them. Replay
 * is timing-independent: the chunks are emitted at once, in order, then `done`. A stored entry
 * carries the instant it expires, so every tier that holds it (L0, L1, L2) lets it go at the same
 * moment, whichever tier it was promoted from.
 */
import * as z from 'zod';
import type { BackendInferResponse, BackendStreamEvent, TokenData } from '../../../shared/contracts/backend';
import { BackendStreamEventSchemas, FinishReasonSchema } from '../../../shared/contracts/backend';
import { assembleToolCalls, toolCallDeltas } from '../../../shared/contracts/tools';
import { UsageSchema } from '../../../shared/contracts/infer';

export const CacheEntrySchema = z.object({
  v: z.literal(1),
  chunks: z.array(z.union([z.string(), BackendStreamEventSchemas.token])),
  usage: UsageSchema,
  finishReason: FinishReasonSchema.optional(),
  modelLatencyMs: z.number().nonnegative(),
  /** Epoch ms when the entry expires, set when it is first stored (entries written before it existed lack it). */
  expiresAt: z.number().optional(),
});

export type CacheEntry = z.infer<typeof CacheEntrySchema>;

/** Largest entry worth caching (bytes of JSON); bigger answers are served but not stored. */
export const MAX_ENTRY_BYTES = 512 * 1024;

/** One recorded chunk: a token's text, or its whole data when it carries tool-call fragments. */
export type Chunk = CacheEntry['chunks'][number];

/** A token as it is recorded. */
export const chunkOf = (token: TokenData): Chunk => (token.tool_calls || token.logprobs ? token : token.text);

/** A recorded chunk as a token again. */
export const tokenOf = (chunk: Chunk): TokenData => (typeof chunk === 'string' ? { text: chunk } : chunk);

/** The text of a recorded chunk. */
export const chunkText = (chunk: Chunk): string => (typeof chunk === 'string' ? chunk : chunk.text);

export function entryFromResult(result: BackendInferResponse): CacheEntry {
  const calls: Chunk[] = result.tool_calls ? [{ text: '', tool_calls: toolCallDeltas(result.tool_calls) }] : [];
  const text: Chunk = result.logprobs ? { text: result.output, logprobs: result.logprobs } : result.output;
  return { v: 1, chunks: [text, ...calls], usage: result.usage, finishReason: result.finish_reason, modelLatencyMs: result.model_latency_ms };
}

export function resultFromEntry(entry: CacheEntry): BackendInferResponse {
  const deltas = entry.chunks.flatMap((c) => (typeof c === 'string' ? [] : (c.tool_calls ?? [])));
  const logprobs = entry.chunks.some((c) => typeof c !== 'string' && c.logprobs)
    ? entry.chunks.flatMap((c) => (typeof c === 'string' ? [] : (c.logprobs ?? [])))
    : undefined;
  return {
    output: entry.chunks.map(chunkText).join(''),
    usage: entry.usage,
    model_latency_ms: entry.modelLatencyMs,
    ...(entry.finishReason ? { finish_reason: entry.finishReason } : {}),
    ...(deltas.length > 0 ? { tool_calls: assembleToolCalls(deltas) } : {}),
    ...(logprobs ? { logprobs } : {}),
  };
}

/** The entry replayed as backend stream events: every chunk as a token, then done. */
export async function* replayEvents(entry: CacheEntry): AsyncGenerator<BackendStreamEvent, void, undefined> {
  for (const chunk of entry.chunks) {
    if (chunk !== '') yield { event: 'token', data: tokenOf(chunk) };
  }
  yield {
    event: 'done',
    data: { usage: entry.usage, model_latency_ms: entry.modelLatencyMs, ...(entry.finishReason ? { finish_reason: entry.finishReason } : {}) },
  };
}

/** What {@link recordStream} tells as the stream passes. */
export interface StreamRecorder {
  /** Each token, before it is forwarded (live fan-out to coalesced followers). */
  readonly onToken?: (token: TokenData) => void;
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
  const chunks: Chunk[] = [];
  let settled = false;
  try {
    for await (const event of events) {
      if (event.event === 'token') {
        chunks.push(chunkOf(event.data));
        recorder.onToken?.(event.data);
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
