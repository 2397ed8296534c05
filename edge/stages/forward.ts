/**
 * The last stage: the upstream call (services/upstream.ts: routing, retries, breakers, fallbacks)
 * and the answer. It announces the settlement the earlier stages listen for: the answer when it is
 * complete (for a stream, when its `done` event passes), a failure, or a cut stream; and each token
 * of a stream as it passes, for the coalesced followers. The `upstream` timing is the time to the
 * answer, or to a stream's first event. A speculating request (response-cache.ts) sends its call,
 * then its cache lookup, and serves whichever answers first.
 */
import type { MiddlewareHandler } from 'hono';
import type { BackendStreamEvent } from '../../shared/contracts/backend';
import type { AppEnv } from '../env';
import { timePhase } from '../middleware/server-timing';
import { nextTurn } from '../services/background';
import { entryFromResult, recordStream } from '../services/cache/entry';
import type { IsolateServices } from '../services/isolate';
import { complete, openStream, type Served, servedHeaders, type UpstreamContext } from '../services/upstream';
import { jsonAnswer, streamAnswer } from './respond';
import { type InferenceState, inferenceOf, type Speculation } from './state';

/**
 * Opens the request's backend stream on `upstream` (rejecting with the ApiError of a failure before
 * its first event; the caller settles that failure) and records it: each token is announced as it
 * passes, and the request settles when the stream completes, fails or is cut.
 */
export async function openRecordedStream(
  state: InferenceState,
  upstream: UpstreamContext = state.upstream,
): Promise<{ events: AsyncGenerator<BackendStreamEvent, void, undefined>; served: Served }> {
  const { events, served } = await openStream(upstream, state.call);
  const recorded = recordStream(events, {
    onToken: (token) => state.emitToken(token),
    onComplete: (entry) => state.settle({ kind: 'answered', entry, source: 'backend' }),
    onIncomplete: () => state.settle({ kind: 'cut' }),
  });
  return { events: recorded, served };
}

export function forward(deps: Pick<IsolateServices, 'now'>): MiddlewareHandler<AppEnv> {
  return async function forward(c) {
    const state = inferenceOf(c);
    await state.admission;
    const stopTimer = timePhase(c, 'upstream');
    const speculation = state.speculation;
    const upstream = speculation ? { ...state.upstream, signal: AbortSignal.any([state.abort.signal, speculation.signal]) } : state.upstream;
    const failed = (err: unknown): never => {
      state.settle({ kind: 'failed' });
      throw err;
    };
    if (!state.req.stream) {
      const called = complete(upstream, state.call).finally(() => stopTimer());
      const hit = speculation && (await firstAnswer(speculation, called));
      if (hit) return hit();
      const { result, served } = await called.catch(failed);
      state.settle({ kind: 'answered', entry: entryFromResult(result), source: 'backend' });
      return jsonAnswer(c, state, result, deps.now, servedHeaders(served));
    }
    const opened = openRecordedStream(state, upstream).finally(() => stopTimer());
    const hit = speculation && (await firstAnswer(speculation, opened));
    if (hit) return hit();
    const { events, served } = await opened.catch(failed);
    return streamAnswer(c, state, events, deps.now, servedHeaders(served));
  };
}

type HitAnswer = () => Response | Promise<Response>;

/**
 * Which answer a speculating request serves. Its lookup starts on the next turn of the event loop,
 * once the call's request has gone out (signing and sending it run in this one). A hit that lands
 * before the backend's answer (a stream's first event) is served, and its function cancels the
 * call; otherwise the backend's, and the request is a miss. A call that fails first still waits for
 * the lookup: a hit saves it.
 */
async function firstAnswer(speculation: Speculation, call: Promise<unknown>): Promise<HitAnswer | undefined> {
  const lookup = nextTurn(() => speculation.lookup());
  const ended = call.then(
    () => 'answered' as const,
    () => 'failed' as const,
  );
  const first = await Promise.race([ended, lookup.then<HitAnswer | 'answered' | 'failed'>((hit) => hit ?? ended)]);
  if (typeof first === 'function') return first;
  const hit = first === 'failed' ? await lookup : undefined;
  if (!hit) speculation.missed();
  return hit;
}
