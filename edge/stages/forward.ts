/**
 * The last stage: the upstream call (services/upstream.ts: routing, retries, breakers, fallbacks)
 * and the answer. It announces the settlement the earlier stages listen for: the answer when it is
 * complete (for a stream, when its `done` event passes), a failure, or a cut stream.
 */
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { entryFromResult, recordStream } from '../services/cache/entry';
import type { IsolateServices } from '../services/isolate';
import { complete, openStream, servedHeaders } from '../services/upstream';
import { jsonAnswer, streamAnswer } from './respond';
import { inferenceOf } from './state';

export function forward(deps: Pick<IsolateServices, 'now'>): MiddlewareHandler<AppEnv> {
  return async function forward(c) {
    const state = inferenceOf(c);
    await state.admission;
    const failed = (err: unknown): never => {
      state.settle({ kind: 'failed' });
      throw err;
    };
    if (!state.req.stream) {
      const { result, served } = await complete(state.upstream, state.call).catch(failed);
      state.settle({ kind: 'answered', entry: entryFromResult(result), source: 'backend' });
      return jsonAnswer(c, state, result, deps.now, servedHeaders(served));
    }
    const { events, served } = await openStream(state.upstream, state.call).catch(failed);
    const recorded = recordStream(
      events,
      (entry) => state.settle({ kind: 'answered', entry, source: 'backend' }),
      () => state.settle({ kind: 'cut' }),
    );
    return streamAnswer(c, state, recorded, deps.now, servedHeaders(served));
  };
}
