/**
 * Turns a backend event stream into the client's SSE response without buffering: each event is
 * encoded and enqueued as it arrives. A client that goes away cancels the upstream; an upstream that
 * fails mid-stream ends the client's stream with an error event, never a hang.
 */
import type { BackendStreamEvent } from '../../shared/contracts/backend';
import { SSE_HEADERS } from '../../shared/contracts/boundary';
import type { StreamEncoder } from './translate';

export interface SseResponseOptions {
  readonly encoder: StreamEncoder;
  /** Milliseconds since the request started, for the `done` event's latency. */
  readonly elapsedMs: () => number;
  readonly headers?: Record<string, string>;
  /** Called once with the final event (`done` or `error`), or `cancelled` when the client left. */
  readonly onEnd?: (outcome: BackendStreamEvent | 'cancelled') => void;
  /** Aborts the upstream call at once (a pending read would otherwise delay the cancellation). */
  readonly abortUpstream?: () => void;
}

const encoder = new TextEncoder();

export function sseResponse(events: AsyncGenerator<BackendStreamEvent, void, undefined>, options: SseResponseOptions): Response {
  let ended = false;
  const end = (outcome: BackendStreamEvent | 'cancelled') => {
    if (ended) return;
    ended = true;
    options.onEnd?.(outcome);
  };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const first = options.encoder.start();
      if (first) controller.enqueue(encoder.encode(first));
    },
    async pull(controller) {
      const next = await events.next().catch(
        (): IteratorResult<BackendStreamEvent, void> => ({
          done: false,
          value: { event: 'error', data: { code: 'UPSTREAM_ERROR', message: 'the backend stream failed' } },
        }),
      );
      if (next.done) {
        controller.close();
        return;
      }
      controller.enqueue(encoder.encode(options.encoder.event(next.value, options.elapsedMs())));
      if (next.value.event !== 'token') {
        end(next.value);
        controller.close();
        await events.return(undefined);
      }
    },
    async cancel() {
      end('cancelled');
      options.abortUpstream?.();
      await events.return(undefined);
    },
  });
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...options.headers } });
}
