/**
 * Paces generation in real time with timers (never busy waits): the time to first token, the gap
 * between tokens, a stream cut after N tokens, and prompt cancellation when the client goes away.
 */
import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { StreamScript } from './formats';
import type { StreamOutcome } from './stats';

/** The two latency knobs. */
export interface Pacing {
  readonly ttftMs: number;
  readonly perTokenMs: number;
}

/** Sleeps `ms` unless `signal` aborts first; resolves false when aborted. Zero or less does not yield a timer. */
export async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleepTimer(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** When token `index` (0-based) is due, relative to the start of generation. */
export function tokenDueMs(index: number, pacing: Pacing): number {
  return pacing.ttftMs + index * pacing.perTokenMs;
}

/**
 * Waits as long as generating `tokens` tokens takes (ttft + perToken × (tokens − 1)).
 * Resolves false when the client went away first.
 */
export function waitForGeneration(tokens: number, pacing: Pacing, signal: AbortSignal): Promise<boolean> {
  return sleep(tokenDueMs(Math.max(0, tokens - 1), pacing), signal);
}

/** Result of {@link playStream}. */
export interface PlayResult {
  readonly outcome: StreamOutcome;
  /** Tokens whose events were sent. */
  readonly tokensSent: number;
}

/**
 * Sends a stream script on schedule: `head` and token 0 at ttft, token i at ttft + i × perToken,
 * `tail` right after the last token. With `cutAfter` = N below the token count it sends N tokens,
 * waits until token N would be due, and returns `cut` (the caller fails the stream its own way).
 * Returns `cancelled` as soon as `signal` aborts; empty events are skipped.
 */
export async function playStream(
  script: StreamScript,
  pacing: Pacing,
  cutAfter: number | null,
  signal: AbortSignal,
  send: (event: string) => Promise<void>,
): Promise<PlayResult> {
  const started = performance.now();
  const limit = cutAfter !== null && cutAfter < script.tokens.length ? cutAfter : script.tokens.length;
  const emit = async (events: readonly string[]) => {
    for (const event of events) if (event !== '' && !signal.aborted) await send(event);
  };
  for (let i = 0; i <= limit; i++) {
    const due = i < script.tokens.length ? tokenDueMs(i, pacing) : 0;
    if (!(await sleep(started + due - performance.now(), signal))) return { outcome: 'cancelled', tokensSent: i };
    if (i === limit) break;
    await emit(i === 0 ? [...script.head, script.tokens[i] ?? ''] : [script.tokens[i] ?? '']);
    if (signal.aborted) return { outcome: 'cancelled', tokensSent: i };
  }
  if (limit < script.tokens.length) return { outcome: 'cut', tokensSent: limit };
  await emit(script.tail);
  return signal.aborted ? { outcome: 'cancelled', tokensSent: limit } : { outcome: 'completed', tokensSent: limit };
}
