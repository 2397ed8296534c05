/**
 * Stop sequences for containers whose output includes the matched stop sequence (TGI): the gateway
 * answers with OpenAI semantics (output ends before the stop sequence), streamed or not.
 */

/**
 * Holds back streamed text until it is certain not to be the start of a stop sequence, and cuts the
 * output before the first stop sequence (for containers whose text includes it, like TGI). With no
 * stop sequences it passes text straight through.
 */
export class StopSequenceTrimmer {
  readonly #stops: readonly string[];
  #pending = '';
  #stopped = false;

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s !== '');
  }

  /** True once a stop sequence was seen: later text is dropped. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** The text that is safe to emit now. */
  push(text: string): string {
    if (this.#stopped) return '';
    if (this.#stops.length === 0) return text;
    this.#pending += text;
    const at = firstStop(this.#pending, this.#stops);
    if (at !== -1) {
      this.#stopped = true;
      const out = this.#pending.slice(0, at);
      this.#pending = '';
      return out;
    }
    // Hold back only the longest tail that could still grow into a stop sequence; never split a
    // UTF-16 surrogate pair at that boundary.
    let cut = this.#pending.length - partialStopLength(this.#pending, this.#stops);
    if (cut > 0 && cut < this.#pending.length && isHighSurrogate(this.#pending.charCodeAt(cut - 1))) cut -= 1;
    const out = this.#pending.slice(0, cut);
    this.#pending = this.#pending.slice(cut);
    return out;
  }

  /** The held-back rest, at the end of the stream. */
  end(): string {
    const out = this.#stopped ? '' : this.#pending;
    this.#pending = '';
    return out;
  }

  /** Trims a whole text at its first stop sequence. */
  static trim(text: string, stops: readonly string[]): string {
    const at = firstStop(
      text,
      stops.filter((s) => s !== ''),
    );
    return at === -1 ? text : text.slice(0, at);
  }
}

function firstStop(text: string, stops: readonly string[]): number {
  let best = -1;
  for (const stop of stops) {
    const at = text.indexOf(stop);
    if (at !== -1 && (best === -1 || at < best)) best = at;
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop sequence. */
function partialStopLength(text: string, stops: readonly string[]): number {
  let best = 0;
  for (const stop of stops) {
    for (let len = Math.min(stop.length - 1, text.length); len > best; len -= 1) {
      if (text.endsWith(stop.slice(0, len))) {
        best = len;
        break;
      }
    }
  }
  return best;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
