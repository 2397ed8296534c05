/**
 * Turns a container's streamed bytes, chunked anywhere (SageMaker PayloadParts, HTTP chunks), into
 * {@link StreamPiece}s: a streaming TextDecoder keeps multi-byte characters split across chunks
 * intact; events are framed as SSE (with the shared `SseParser`) when the content type says
 * `text/event-stream`, else as lines (JSON lines, tolerating `data:` prefixes as LMI and some
 * proxies send them); `[DONE]` ends OpenAI streams; each event's JSON goes to the format.
 */
import { SseParser } from '../../shared/sse';
import type { FormatCodec, StreamPiece } from './formats';

/** Splits text into lines across chunks (`\n` or `\r\n`); the last partial line waits for more. */
export class LineSplitter {
  #buffer = '';

  /** The lines `chunk` completed. */
  push(chunk: string): string[] {
    this.#buffer += chunk;
    const parts = this.#buffer.split('\n');
    this.#buffer = parts.pop() ?? '';
    return parts.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  }

  /** The unterminated last line, if any. */
  end(): string[] {
    const rest = this.#buffer;
    this.#buffer = '';
    return rest === '' ? [] : [rest];
  }
}

const DONE = '[DONE]';

/** Incremental decoder for one streamed container response. */
export class ContainerStreamDecoder {
  readonly #codec: FormatCodec;
  readonly #text = new TextDecoder('utf-8');
  readonly #sse: SseParser | undefined;
  readonly #lines: LineSplitter | undefined;

  constructor(codec: FormatCodec, contentType: string | undefined) {
    this.#codec = codec;
    if (contentType !== undefined && /text\/event-stream/i.test(contentType)) this.#sse = new SseParser();
    else this.#lines = new LineSplitter();
  }

  /** The pieces completed by `bytes` (empty chunks are fine). */
  push(bytes: Uint8Array): StreamPiece[] {
    if (bytes.length === 0) return [];
    return this.#frame(this.#text.decode(bytes, { stream: true }), false);
  }

  /** Flushes whatever the stream ended with (a last event without its blank line or newline). */
  end(): StreamPiece[] {
    return this.#frame(this.#text.decode(), true);
  }

  #frame(text: string, last: boolean): StreamPiece[] {
    const pieces: StreamPiece[] = [];
    if (this.#sse) {
      const messages = [...this.#sse.push(text), ...(last ? this.#sse.end() : [])];
      for (const m of messages) pieces.push(...this.#payload(m.data, m.event === 'error'));
    } else if (this.#lines) {
      const lines = [...this.#lines.push(text), ...(last ? this.#lines.end() : [])];
      for (const line of lines) {
        const payload = linePayload(line);
        if (payload !== undefined) pieces.push(...this.#payload(payload, false));
      }
    }
    return pieces;
  }

  #payload(data: string, errorEvent: boolean): StreamPiece[] {
    const trimmed = data.trim();
    if (trimmed === '') return [];
    if (trimmed === DONE) return [{ kind: 'final' }];
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return [{ kind: 'error', message: errorEvent ? trimmed : 'the model container sent a malformed stream event' }];
    }
    const pieces = this.#codec.event(parsed);
    if (errorEvent && !pieces.some((p) => p.kind === 'error')) return [{ kind: 'error', message: trimmed }];
    return pieces;
  }
}

/** The payload of one line in line mode: JSON lines as they are, `data:` lines without the prefix, SSE noise skipped. */
function linePayload(line: string): string | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith(':')) return undefined;
  if (trimmed.startsWith('data:')) return trimmed.slice(5);
  if (/^(event|id|retry):/.test(trimmed)) return undefined;
  return trimmed;
}
