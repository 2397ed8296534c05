/**
 * The last stage: the upstream call (services/upstream.ts: routing, retries, breakers, fallbacks)
 * and the answer. It announces the settlement the earlier stages listen for: the answer when it is
 * complete (for a stream, when its `done` event passes), a failure, or a cut stream; and each token
 * of a stream as it passes, for the coalesced followers. The `upstream` timing is the time to the
 * answer, or to a stream's first event.
 */
import type { MiddlewareHandler } from 'hono';
import type { BackendStreamEvent } from '../../shared/contracts/backend';
import type { AppEnv } from '../env';
import { timePhase } from '../middleware/server-timing';
import { entryFromResult, recordStream } from '../services/cache/entry';
import type { IsolateServices } from '../services/isolate';
import { complete, openStream, type Served, servedHeaders } from '../services/upstream';
import { jsonAnswer, streamAnswer } from './respond';
import { type InferenceState, inferenceOf } from './state';

/**
 * Opens the request's backend stream (rejecting with the ApiError of a failure before its first
 * event) and records it: each token is announced as it passes, and the request settles when the
 * stream completes, fails or is cut.
 */
export async function openRecordedStream(state: InferenceState): Promise<{ events: AsyncGenerator<BackendStreamEvent, void, undefined>; served: Served }> {
  const { events, served } = await openStream(state.upstream, state.call).catch((err: unknown) => {
    state.settle({ kind: 'failed' });
    throw err;
  });
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
    if (!state.req.stream) {
      const { result, served } = await complete(state.upstream, state.call)
        .catch((err: unknown) => {
          state.settle({ kind: 'failed' });
          throw err;
        })
        .finally(() => stopTimer());
      state.settle({ kind: 'answered', entry: entryFromResult(result), source: 'backend' });
      return jsonAnswer(c, state, result, deps.now, servedHeaders(served));
    }
    const { events, served } = await openRecordedStream(state).finally(() => stopTimer());
    return streamAnswer(c, state, events, deps.now, servedHeaders(served));
  };
}
