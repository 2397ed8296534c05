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
import type { BackendInferResponse, BackendStreamEvent, ExtraChoice, TokenData } from '../../../shared/contracts/backend';
import { BackendStreamEventSchemas, FinishReasonSchema } from '../../../shared/contracts/backend';
import { assembleToolCalls, toolCallDeltas } from '../../../shared/contracts/tools';
import { UsageSchema } from '../../../shared/contracts/infer';

export const CacheEntrySchema = z.object({
  v: z.literal(1),
  chunks: z.array(z.union([z.string(), BackendStreamEventSchemas.token])),
  usage: UsageSchema,
  finishReason: FinishReasonSchema.optional(),
  /** With `n` > 1: each choice's finish reason by index (chunks of choice i > 0 carry `index`). */
  finishReasons: z.array(FinishReasonSchema.nullable()).optional(),
  modelLatencyMs: z.number().nonnegative(),
  /** Epoch ms when the entry expires, set when it is first stored (entries written before it existed lack it). */
  expiresAt: z.number().optional(),
});

export type CacheEntry = z.infer<typeof CacheEntrySchema>;

/** Largest entry worth caching (bytes of JSON); bigger answers are served but not stored. */
export const MAX_ENTRY_BYTES = 512 * 1024;

/** One recorded chunk: a token's text, or its whole data when it carries tool-call fragments, logprobs or a choice index. */
export type Chunk = CacheEntry['chunks'][number];

/** A token as it is recorded. */
export const chunkOf = (token: TokenData): Chunk => (token.tool_calls || token.logprobs || token.index ? token : token.text);

/** A recorded chunk as a token again. */
export const tokenOf = (chunk: Chunk): TokenData => (typeof chunk === 'string' ? { text: chunk } : chunk);

/** The text of a recorded chunk. */
export const chunkText = (chunk: Chunk): string => (typeof chunk === 'string' ? chunk : chunk.text);

/** The choice a recorded chunk belongs to. */
const choiceOf = (chunk: Chunk): number => (typeof chunk === 'string' ? 0 : (chunk.index ?? 0));

function choiceChunks(choice: Omit<ExtraChoice, 'finish_reason'> | (Omit<ExtraChoice, 'index' | 'finish_reason'> & { index: 0 })): Chunk[] {
  const at = choice.index > 0 ? { index: choice.index } : {};
  const text: Chunk =
    choice.logprobs || choice.index > 0 ? { text: choice.output, ...at, ...(choice.logprobs ? { logprobs: choice.logprobs } : {}) } : choice.output;
  const calls: Chunk[] = choice.tool_calls ? [{ text: '', tool_calls: toolCallDeltas(choice.tool_calls), ...at }] : [];
  return [text, ...calls];
}

export function entryFromResult(result: BackendInferResponse): CacheEntry {
  const more = result.more_choices ?? [];
  const chunks = [{ index: 0 as const, output: result.output, tool_calls: result.tool_calls, logprobs: result.logprobs }, ...more].flatMap(choiceChunks);
  const finishReasons = more.length > 0 ? [result.finish_reason ?? null, ...more.map((c) => c.finish_reason ?? null)] : undefined;
  return {
    v: 1,
    chunks,
    usage: result.usage,
    finishReason: result.finish_reason,
    ...(finishReasons ? { finishReasons } : {}),
    modelLatencyMs: result.model_latency_ms,
  };
}

/** One choice's output, tool calls and logprobs from its recorded chunks. */
function choiceFrom(chunks: readonly Chunk[]): Pick<ExtraChoice, 'output' | 'tool_calls' | 'logprobs'> {
  const deltas = chunks.flatMap((c) => (typeof c === 'string' ? [] : (c.tool_calls ?? [])));
  const logprobs = chunks.some((c) => typeof c !== 'string' && c.logprobs)
    ? chunks.flatMap((c) => (typeof c === 'string' ? [] : (c.logprobs ?? [])))
    : undefined;
  return {
    output: chunks.map(chunkText).join(''),
    ...(deltas.length > 0 ? { tool_calls: assembleToolCalls(deltas) } : {}),
    ...(logprobs ? { logprobs } : {}),
  };
}

export function resultFromEntry(entry: CacheEntry): BackendInferResponse {
  const count = Math.max(entry.finishReasons?.length ?? 1, ...entry.chunks.map((c) => choiceOf(c) + 1));
  const choices = Array.from({ length: count }, (_, i) => choiceFrom(entry.chunks.filter((c) => choiceOf(c) === i)));
  const more = choices.slice(1).map((c, i) => {
    const reason = entry.finishReasons?.[i + 1];
    return { index: i + 1, ...c, ...(reason ? { finish_reason: reason } : {}) };
  });
  return {
    ...choices[0]!,
    usage: entry.usage,
    model_latency_ms: entry.modelLatencyMs,
    ...(entry.finishReason ? { finish_reason: entry.finishReason } : {}),
    ...(more.length > 0 ? { more_choices: more } : {}),
  };
}

/** The entry replayed as backend stream events: every chunk as a token, then done. */
export async function* replayEvents(entry: CacheEntry): AsyncGenerator<BackendStreamEvent, void, undefined> {
  for (const chunk of entry.chunks) {
    if (chunk !== '') yield { event: 'token', data: tokenOf(chunk) };
  }
  yield {
    event: 'done',
    data: {
      usage: entry.usage,
      model_latency_ms: entry.modelLatencyMs,
      ...(entry.finishReason ? { finish_reason: entry.finishReason } : {}),
      ...(entry.finishReasons ? { finish_reasons: entry.finishReasons } : {}),
    },
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
        const { usage, finish_reason: finishReason, finish_reasons: finishReasons, model_latency_ms: modelLatencyMs } = event.data;
        recorder.onComplete({ v: 1, chunks, usage, finishReason, ...(finishReasons ? { finishReasons } : {}), modelLatencyMs });
      }
      yield event;
    }
  } finally {
    if (!settled) recorder.onIncomplete();
  }
}
