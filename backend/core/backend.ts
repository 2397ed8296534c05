/**
 * What core needs from an adapter: where each model lives (its config, with the container format),
 * a transport that moves bytes to and from the model (SageMaker runtime, HTTP), and timeouts.
 * Everything else (formats, decoding, the stream contract, errors in the envelope) is shared.
 */
import type { TraceContext } from '../../shared/contracts/trace';
import type { AdapterError } from './errors';
import type { ContainerModel } from './formats';

/** Timeouts of one adapter, in ms. */
export interface Timeouts {
  /** Non-streaming: the whole answer. */
  readonly requestMs: number;
  /** Streaming: from the call to the first token. */
  readonly firstTokenMs: number;
  /** Streaming: the longest silence between two chunks after the first token. */
  readonly idleMs: number;
}

/** A whole upstream answer. */
export interface UpstreamResponse {
  readonly contentType: string | undefined;
  readonly body: Uint8Array;
  /** What the container reported beside its body (SageMaker `CustomAttributes`, TEI's `x-compute-tokens` header). */
  readonly attributes?: string | undefined;
}

/** An upstream stream that was accepted (status 200): its content type and raw byte chunks. */
export interface UpstreamStream {
  readonly contentType: string | undefined;
  /** Raw bytes, chunked anywhere; throws on an upstream failure mid-stream. */
  readonly chunks: AsyncIterable<Uint8Array>;
}

/** What travels with a container call besides the body: the request id, and the trace context the container continues. */
export interface CallMeta {
  readonly requestId?: string | undefined;
  readonly trace?: TraceContext | undefined;
}

/** When an upstream error happened: before the answer began, or while its stream was read. */
export type ErrorPhase = 'request' | 'stream';

/** Moves a container request body to the model and the answer back. */
export interface Transport<M extends ContainerModel> {
  /** Sends `body`; resolves with the whole answer; rejects on any failure (including abort). */
  invoke(model: M, body: Uint8Array, signal: AbortSignal, meta?: CallMeta): Promise<UpstreamResponse>;
  /** Sends `body` for a streamed answer; resolves once the upstream accepted it. */
  stream(model: M, body: Uint8Array, signal: AbortSignal, meta?: CallMeta): Promise<UpstreamStream>;
  /**
   * Maps anything `invoke` or `stream` threw (`phase: 'request'`), or iterating the chunks threw
   * (`phase: 'stream'`: the answer had begun, so a dropped connection is a broken stream, not an
   * unreachable service), to an AdapterError.
   */
  mapError(err: unknown, model: M, phase: ErrorPhase): AdapterError;
  /**
   * The model server's own Responses API (vLLM's `/v1/responses`), for the relay path
   * (core/responses-relay.ts); absent where the adapter's models do not serve it (SageMaker).
   */
  readonly responses?: Pick<Transport<M>, 'invoke' | 'stream'>;
}

/** One adapter, as core sees it. */
export interface Backend<M extends ContainerModel = ContainerModel> {
  /** The adapter kind (`sagemaker`, `ecs`): a log field and metric dimension. */
  readonly kind: 'sagemaker' | 'ecs';
  /** Models this adapter serves, by gateway model name. */
  readonly models: Readonly<Record<string, M>>;
  readonly transport: Transport<M>;
  readonly timeouts: Timeouts;
  /** Where a model lives, for logs (endpoint name, service URL host): bounded by the config. */
  target(model: M): string;
}

/** The model config for `name`, if this adapter serves it (own properties only). */
export function modelFor<M extends ContainerModel>(backend: Backend<M>, name: string): M | undefined {
  return Object.hasOwn(backend.models, name) ? backend.models[name] : undefined;
}
