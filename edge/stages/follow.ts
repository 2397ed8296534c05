/**
 * How a coalesced follower answers from its leader's flight (services/cache/coalesce.ts), in the
 * response cache stage. A sync follower waits for the whole entry. A streaming follower waits for
 * the leader's first token, then streams what the leader already sent and the live tail after it.
 *
 * Whatever happens to the leader, a follower gets an answer: when the flight fails (or gives
 * nothing for the backend timeout) before this follower answered, the stage makes the follower's
 * own call as for any miss, status codes included; when it fails after the follower's stream has
 * begun, the follower makes its own backend call inside its stream and continues after the text
 * its client already has.
 */
import type { Context } from 'hono';
import type { BackendStreamEvent } from '../../shared/contracts/backend';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { continueAfter, type Flight, LeaderFailedError } from '../services/cache/coalesce';
import { resultFromEntry } from '../services/cache/entry';
import { openRecordedStream } from './forward';
import { jsonAnswer, streamAnswer } from './respond';
import type { InferenceState } from './state';

const HEADERS = { 'X-Cache': 'HIT', 'X-Cache-Tier': 'COALESCED' };

/** The follower's answer from `flight`, or undefined when it must make its own call. */
export async function followFlight(c: Context<AppEnv>, state: InferenceState, flight: Flight, now: () => number): Promise<Response | undefined> {
  const waitMs = state.upstream.config.backendTimeoutMs;
  if (!state.req.stream) {
    const entry = await flight.answer(waitMs);
    if (!entry) return undefined;
    state.settle({ kind: 'answered', entry, source: 'COALESCED' });
    return jsonAnswer(c, state, resultFromEntry(entry), now, HEADERS);
  }
  if (!(await flight.started(waitMs))) return undefined;
  return streamAnswer(c, state, followerStream(state, flight, waitMs), now, HEADERS);
}

/** The error event a resumed follower sends when its own call fails before its first event. */
function failedEvent(err: unknown): BackendStreamEvent {
  if (err instanceof ApiError) return { event: 'error', data: { code: err.code, message: err.message } };
  return { event: 'error', data: { code: 'UPSTREAM_ERROR', message: 'the backend stream failed' } };
}

async function* followerStream(state: InferenceState, flight: Flight, idleMs: number): AsyncGenerator<BackendStreamEvent, void, undefined> {
  let sent = '';
  let sentToolCalls = false;
  try {
    try {
      // The client leaving aborts the request's signal, which ends a wait for the leader at once.
      for await (const event of flight.events(idleMs, state.abort.signal)) {
        if (event.event === 'token') {
          sent += event.data.text;
          sentToolCalls ||= event.data.tool_calls !== undefined || event.data.index !== undefined;
        } else if (event.event === 'done' && flight.entry) state.settle({ kind: 'answered', entry: flight.entry, source: 'COALESCED' });
        yield event;
      }
      return;
    } catch (err) {
      if (!(err instanceof LeaderFailedError)) throw err;
    }
    // Tool-call fragments and further choices cannot be matched against a new answer's the way text is: no splice.
    if (sentToolCalls) {
      yield { event: 'error', data: { code: 'UPSTREAM_ERROR', message: 'the shared stream was interrupted after its tool calls began' } };
      return;
    }
    // Its own call settles the request (tokens charged, entry stored) like any backend answer.
    let events: AsyncGenerator<BackendStreamEvent, void, undefined>;
    try {
      ({ events } = await openRecordedStream(state));
    } catch (err) {
      state.settle({ kind: 'failed' });
      yield failedEvent(err);
      return;
    }
    yield* continueAfter(sent, events);
  } finally {
    // A no-op once settled; otherwise the client left before the leader's answer was complete.
    state.settle({ kind: 'left' });
  }
}
