/**
 * Test support: a ResponseSink that keeps everything in memory (status, headers, body), can be
 * made to fail like a caller that went away, and parses what it got as JSON or SSE events.
 */
import { SseParser, type SseMessage } from '../../shared/sse';
import { ClientClosedError } from '../core/errors';
import type { ResponseSink } from '../core/sink';

/** A ResponseSink for tests. */
export class MemorySink implements ResponseSink {
  statusCode: number | undefined;
  headers: Record<string, string> = {};
  readonly chunks: Uint8Array[] = [];
  #started = false;
  #ended = false;
  /** Writes after this many fail with ClientClosedError (the caller left). */
  failAfterWrites = Number.POSITIVE_INFINITY;
  /** Called on every write, e.g. to abort the caller's signal. */
  onWrite: ((index: number) => void) | undefined;

  get started(): boolean {
    return this.#started;
  }

  get ended(): boolean {
    return this.#ended;
  }

  start(statusCode: number, headers: Readonly<Record<string, string>>): void {
    if (this.#started) throw new Error('started twice');
    this.#started = true;
    this.statusCode = statusCode;
    this.headers = { ...headers };
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (!this.#started) throw new Error('write before start');
    if (this.chunks.length >= this.failAfterWrites) throw new ClientClosedError();
    this.chunks.push(chunk);
    this.onWrite?.(this.chunks.length);
  }

  async end(chunk?: Uint8Array): Promise<void> {
    if (this.#ended) throw new Error('ended twice');
    this.#ended = true;
    if (chunk) this.chunks.push(chunk);
  }

  text(): string {
    return new TextDecoder().decode(Buffer.concat(this.chunks));
  }

  json(): unknown {
    return JSON.parse(this.text());
  }

  events(): SseMessage[] {
    const parser = new SseParser();
    return [...parser.push(this.text()), ...parser.end()];
  }
}
