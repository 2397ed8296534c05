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
  /** Aborts the upstream call at once (a pending read would otherwise delay the cancellation). */
  readonly abortUpstream?: () => void;
}

const encoder = new TextEncoder();

export function sseResponse(events: AsyncGenerator<BackendStreamEvent, void, undefined>, options: SseResponseOptions): Response {
  let last: BackendStreamEvent | undefined;
  const failed: BackendStreamEvent = { event: 'error', data: { code: 'UPSTREAM_ERROR', message: 'the backend stream failed' } };
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const first = options.encoder.start();
      if (first) controller.enqueue(encoder.encode(first));
    },
    // The stream ends when `events` does (upstream.ts ends it after its final event); a throw
    // becomes a final error event.
    async pull(controller) {
      let next: IteratorResult<BackendStreamEvent, void>;
      try {
        next = await events.next();
      } catch {
        next = { done: false, value: failed };
        await events.return(undefined);
      }
      if (next.done || last?.event === 'error') {
        controller.close();
        return;
      }
      last = next.value;
      controller.enqueue(encoder.encode(options.encoder.event(next.value, options.elapsedMs())));
    },
    async cancel() {
      options.abortUpstream?.();
      await events.return(undefined);
    },
  });
  return new Response(body, { status: 200, headers: { ...SSE_HEADERS, ...options.headers } });
}
