/**
 * Server-sent events: one encoder and one incremental parser, used by the adapters (writing), the
 * edge (reading the adapter, writing the client) and tests. Runtime-agnostic.
 */

const encoder = new TextEncoder();

/** Encodes one event; `data` is JSON-serialised unless it is already a string. */
export function sseEvent(event: string | undefined, data: unknown): string {
  const head = event ? `event: ${event}\n` : '';
  // JSON escapes every line break, so only string data needs splitting (this runs once per token).
  if (typeof data !== 'string') return `${head}data: ${JSON.stringify(data)}\n\n`;
  const lines = data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`);
  return `${head}${lines.join('\n')}\n\n`;
}

/** {@link sseEvent} as bytes. */
export function sseBytes(event: string | undefined, data: unknown): Uint8Array {
  return encoder.encode(sseEvent(event, data));
}

/** One parsed event: `event` defaults to "message" as in the HTML spec. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  readonly id?: string;
}

/**
 * Incremental SSE parser: feed it text chunks split anywhere (mid-line, mid-CRLF), get whole events.
 * Decode bytes with a streaming TextDecoder first, so multi-byte characters split across chunks
 * survive.
 */
export class SseParser {
  #buffer = '';
  #event = '';
  #data: string[] = [];
  #id: string | undefined;
  #pendingCr = false;

  /** Parses a chunk; returns the events it completed. */
  push(chunk: string): SseMessage[] {
    let text = chunk;
    if (this.#pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    const out: SseMessage[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.#buffer);
      if (!match) break;
      // A lone CR at the very end may be the first half of CRLF.
      if (match[0] === '\r' && match.index === this.#buffer.length - 1) {
        this.#pendingCr = true;
      }
      const line = this.#buffer.slice(0, match.index);
      this.#buffer = this.#buffer.slice(match.index + match[0].length);
      const message = this.#line(line);
      if (message) out.push(message);
    }
    return out;
  }

  /** Flushes a final event that was not followed by a blank line (the stream ended). */
  end(): SseMessage[] {
    const out: SseMessage[] = [];
    if (this.#buffer.length > 0) {
      const message = this.#line(this.#buffer);
      this.#buffer = '';
      if (message) out.push(message);
    }
    const last = this.#dispatch();
    if (last) out.push(last);
    return out;
  }

  #line(line: string): SseMessage | undefined {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.#event = value;
    else if (field === 'data') this.#data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
    return undefined;
  }

  #dispatch(): SseMessage | undefined {
    if (this.#data.length === 0) {
      this.#event = '';
      return undefined;
    }
    const message: SseMessage = { event: this.#event || 'message', data: this.#data.join('\n'), ...(this.#id !== undefined ? { id: this.#id } : {}) };
    this.#event = '';
    this.#data = [];
    return message;
  }
}
