/**
 * The ECS adapter's transport: HTTP POST to the OpenAI-compatible server (vLLM, or TGI's native
 * API) behind the internal ALB, with Node's global fetch. fetch keeps connections alive and reuses
 * them from one pool per process (undici's global dispatcher), so warm invocations skip the TCP
 * handshake. Streams hand on each body chunk as it arrives; an early exit cancels the body, which
 * closes the connection and stops generation upstream.
 */
import { REQUEST_ID_HEADER } from '../../../shared/contracts/boundary';
import { traceHeaders } from '../../../shared/contracts/trace';
import type { Backend, CallMeta, Transport, UpstreamStream } from '../../core/backend';
import type { EcsConfig, EcsModel } from '../../config/ecs';
import { HttpStatusError, mapEcsError, serviceLabel } from './errors';

/** The fetch the transport uses (the global one in production; injectable for tests). */
export type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

const MAX_ERROR_BODY = 4096;

/** The URL a request for `model` goes to. */
export function endpointUrl(model: Pick<EcsModel, 'baseUrl' | 'format'>, stream: boolean): string {
  const base = model.baseUrl.endsWith('/') ? model.baseUrl : `${model.baseUrl}/`;
  const paths: Record<EcsModel['format'], string> = {
    'openai-chat': 'chat/completions',
    'openai-completions': 'completions',
    'openai-embeddings': 'embeddings',
    tgi: stream ? 'generate_stream' : 'generate',
  };
  const path = paths[model.format];
  return new URL(path, base).toString();
}

/** The service host and port, for logs only: client messages use {@link serviceLabel}. */
export function targetOf(model: Pick<EcsModel, 'baseUrl'>): string {
  return new URL(model.baseUrl).host;
}

/** vLLM's Responses API of `model`'s service (the relay path). */
export function responsesUrl(model: Pick<EcsModel, 'baseUrl'>): string {
  return new URL('responses', model.baseUrl.endsWith('/') ? model.baseUrl : `${model.baseUrl}/`).toString();
}

async function post(
  fetchFn: FetchFn,
  model: EcsModel,
  body: Uint8Array,
  signal: AbortSignal,
  stream: boolean,
  meta: CallMeta | undefined,
  url = endpointUrl(model, stream),
): Promise<Response> {
  const res = await fetchFn(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: stream ? 'text/event-stream' : 'application/json',
      ...(meta?.requestId ? { [REQUEST_ID_HEADER]: meta.requestId } : {}),
      ...(meta?.trace ? traceHeaders(meta.trace) : {}),
    },
    body,
    signal,
  });
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    throw new HttpStatusError(res.status, res.headers.get('retry-after'), text.slice(0, MAX_ERROR_BODY));
  }
  return res;
}

/** The body's chunks as they arrive; an early exit cancels the body. */
export async function* bodyChunks(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      if (next.value.length > 0) yield next.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
  }
}

/** A transport over `fetchFn`. */
export function ecsTransport(fetchFn: FetchFn = fetch): Transport<EcsModel> {
  return {
    async invoke(model, body, signal, meta) {
      const res = await post(fetchFn, model, body, signal, false, meta);
      const tokens = res.headers.get('x-compute-tokens');
      return {
        contentType: res.headers.get('content-type') ?? undefined,
        body: new Uint8Array(await res.arrayBuffer()),
        ...(tokens ? { attributes: `x-compute-tokens=${tokens}` } : {}),
      };
    },
    async stream(model, body, signal, meta): Promise<UpstreamStream> {
      const res = await post(fetchFn, model, body, signal, true, meta);
      return { contentType: res.headers.get('content-type') ?? undefined, chunks: bodyChunks(res.body) };
    },
    mapError: (err, model, phase) => mapEcsError(err, serviceLabel(model), phase),
    responses: {
      async invoke(model, body, signal, meta) {
        const res = await post(fetchFn, model, body, signal, false, meta, responsesUrl(model));
        return { contentType: res.headers.get('content-type') ?? undefined, body: new Uint8Array(await res.arrayBuffer()) };
      },
      async stream(model, body, signal, meta): Promise<UpstreamStream> {
        const res = await post(fetchFn, model, body, signal, true, meta, responsesUrl(model));
        return { contentType: res.headers.get('content-type') ?? undefined, chunks: bodyChunks(res.body) };
      },
    },
  };
}

/** The ECS adapter as core sees it. */
export function ecsBackend(config: Pick<EcsConfig, 'models' | 'timeouts'>, fetchFn?: FetchFn): Backend<EcsModel> {
  return {
    kind: 'ecs',
    models: config.models,
    transport: ecsTransport(fetchFn),
    timeouts: config.timeouts,
    target: targetOf,
  };
}
