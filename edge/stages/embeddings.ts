/**
 * `POST /v1/embeddings` after auth and schema validation: the model's route (an embeddings model
 * only), the inputs checked against the caps, then the same limits as every inference request (one
 * request in the request windows, the inputs' estimated tokens reserved in the token windows and
 * settled to the backend's count), the per-input cache, and the batcher for the inputs it missed.
 * The answer keeps the request's order; `usage` counts every input (a cached one at the tokens it
 * was counted at), while the limits settle to the backend's tokens alone, as for a cache hit.
 *
 * `X-Cache`: HIT (every input cached), PARTIAL (some), MISS, or BYPASS (`Cache-Control: no-cache`);
 * `X-Cache-Hits: n/m`; Server-Timing `cache;desc=` the same outcome.
 */
import type { Context } from 'hono';
import type { EmbeddingList, EmbeddingRequest } from '../../shared/contracts/embeddings';
import { EdgeMetric } from '../../shared/metrics-catalog';
import type { AppEnv } from '../env';
import { ApiError } from '../errors';
import { timePhase } from '../middleware/server-timing';
import { backgroundFor } from '../services/background';
import { cachePolicy } from '../services/cache/key';
import { apportion } from '../services/embeddings/apportion';
import { inputKey, lookupVectors, storeVector, type VectorTiers } from '../services/embeddings/cache';
import { embedOnBackends } from '../services/embeddings/call';
import { embeddingDimensions, embeddingItems } from '../services/embeddings/inputs';
import { float32, vectorToBase64 } from '../services/embeddings/vectors';
import type { IsolateServices } from '../services/isolate';
import { deadlineFor, flushMsFor, resolveRoute } from '../services/route-table';
import { checkModelAllowed, type Served, servedHeaders, wrongModelKind } from '../services/upstream';
import { costMicros } from '../services/usage/prices';
import { factsCost, priceOf } from '../services/usage/record';
import { admitRequest } from './quota';

type Deps = Pick<IsolateServices, 'quotaGate' | 'metrics' | 'l0' | 'now' | 'health' | 'batcher'>;

/** Answers one validated embeddings request. */
export function embeddingsHandler(deps: Deps): (c: Context<AppEnv>, body: EmbeddingRequest) => Promise<Response> {
  return async function embeddings(c, body) {
    const config = c.get('config');
    const auth = c.get('auth');
    const model = body.model;
    const route = resolveRoute(config.routes, model);
    if (!route || route.backends.length === 0) throw new ApiError('NOT_FOUND', `model '${model}' does not exist`, { details: { model } });
    checkModelAllowed(auth, model);
    if (!route.embeddings) throw wrongModelKind(model, 'a chat model: use POST /v1/chat/completions');
    const spec = route.embeddings;
    const items = embeddingItems(body, model, spec);
    const dimensions = embeddingDimensions(body.dimensions, model, spec);
    const later = backgroundFor(c);
    const headers: Record<string, string> = {};

    // Embeddings are deterministic: always cacheable, unless the client says no-cache / no-store.
    const policy = cachePolicy(c.req.header('cache-control'), { temperature: 0 }, config.cache);
    const tiers: VectorTiers = {
      store: c.get('store'),
      l0: deps.l0,
      l0Bytes: config.cache.l0Bytes,
      storeTimeoutMs: config.limits.storeTimeoutMs,
      now: deps.now,
      background: later,
    };
    const keys = await Promise.all(items.map((item) => inputKey(auth.tenantId, model, item.input, dimensions, config.cache)));
    // Admission and lookup issued in the same tick: the L2 reads ride in the limiters' store round trip.
    const estimate = items.reduce((sum, item) => sum + item.tokens, 0);
    const price = priceOf(config.routes, model);
    const request = admitRequest(
      c,
      deps,
      { tokens: estimate, maxCostMicros: costMicros(price, { promptTokens: estimate, completionTokens: 0, cached: false }) },
      headers,
    );
    const admission = request.then((r) => r.admitted);
    const stopCache = timePhase(c, 'cache');
    // A tenant already blocked in this isolate is answered 429 with no store call: no lookup either.
    const blocked = deps.quotaGate.blockedStates(auth.tenantId) !== undefined;
    const lookup = policy.lookup && !blocked ? lookupVectors(tiers, keys, policy.ttlS) : Promise.resolve(items.map(() => undefined));
    const admitted = await admission;
    const found = await lookup;
    const misses = found.flatMap((hit, i) => (hit ? [] : [i]));
    const hits = items.length - misses.length;
    const outcome = !policy.lookup ? 'BYPASS' : hits === items.length ? 'HIT' : hits > 0 ? 'PARTIAL' : 'MISS';
    stopCache(outcome);
    if (policy.lookup) {
      for (const hit of found) if (hit) deps.metrics.count(EdgeMetric.CacheHits, { Tier: hit.tier });
      if (misses.length > 0) deps.metrics.count(EdgeMetric.CacheMisses, {}, misses.length);
    }

    const vectors: number[][] = found.map((hit) => hit?.vector ?? []);
    let backendTokens = 0;
    let served: Served | undefined;
    if (misses.length > 0) {
      const priority = auth.plan.priority;
      const stopUpstream = timePhase(c, 'upstream');
      const requestId = c.get('requestId');
      try {
        const result = await deps.batcher.embed({
          // One call carries texts or token lists, not both (containers take one kind per call).
          key: `${model}\n${priority}\n${dimensions ?? ''}\n${typeof items[0]!.input === 'string' ? 'text' : 'tokens'}`,
          inputs: misses.map((i) => items[i]!.input),
          weights: misses.map((i) => items[i]!.tokens),
          maxBatchInputs: spec.maxBatchInputs,
          flushMs: flushMsFor(spec, priority),
          deadlineMs: deadlineFor(config.routes, priority),
          signal: c.req.raw.signal,
          background: later,
          onSend: (size, waitedMs) => {
            deps.metrics.observe(EdgeMetric.EmbeddingBatchSize, size, { Model: model });
            deps.metrics.observe(EdgeMetric.EmbeddingBatchWait, waitedMs, { Model: model });
          },
          // Runs only for a batch this request owns: the call carries this request's id and tenant (for the logs).
          send: async (inputs) => {
            const call = { config, route, tenantId: auth.tenantId, requestId, priority, metrics: deps.metrics, health: deps.health, now: deps.now };
            const answer = await embedOnBackends(call, {
              request_id: requestId,
              tenant_id: auth.tenantId,
              model,
              inputs,
              ...(dimensions ? { dimensions } : {}),
            });
            served ??= answer.served;
            return answer;
          },
        });
        backendTokens = result.promptTokens;
        // Each input is cached at its share of the backend's count, so a later hit reports what the backend would.
        const perInput = apportion(
          result.promptTokens,
          misses.map((i) => items[i]!.tokens),
        );
        misses.forEach((index, j) => {
          vectors[index] = float32(result.vectors[j]!);
          if (policy.store) storeVector(tiers, keys[index]!, vectors[index], perInput[j]!, policy.ttlS);
        });
      } catch (err) {
        later(admitted.settle(0));
        (await request).settleSpend(0);
        throw err;
      } finally {
        stopUpstream();
      }
    }
    later(admitted.settle(backendTokens));
    const promptTokens = backendTokens + found.reduce((sum, hit) => sum + (hit?.tokens ?? 0), 0);
    // The usage record: the tokens the client is told, the ones the backend embedded, the cache outcome (PARTIAL included).
    const facts = c.get('usage');
    if (facts)
      Object.assign(facts, {
        model,
        stream: false,
        n: 1,
        cache: outcome,
        promptTokens,
        completionTokens: 0,
        backendPromptTokens: backendTokens,
        backendCompletionTokens: 0,
      });
    (await request).settleSpend(
      facts ? factsCost(facts, config.routes) : costMicros(price, { promptTokens: backendTokens, completionTokens: 0, cached: false }),
    );
    const outcomeVar = c.get('outcome');
    if (outcomeVar) outcomeVar.usage = Promise.resolve({ prompt_tokens: backendTokens, completion_tokens: 0 });
    const answer: EmbeddingList = {
      object: 'list',
      data: vectors.map((vector, index) => ({ object: 'embedding', index, embedding: body.encoding_format === 'base64' ? vectorToBase64(vector) : vector })),
      model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
    return c.json(answer, 200, {
      'X-Cache': outcome,
      'X-Cache-Hits': `${hits}/${items.length}`,
      ...(served ? servedHeaders(served) : {}),
    });
  };
}
