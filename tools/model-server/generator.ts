/**
 * Deterministic text generation for the reference model server (a stand-in for the GPU
 * container, not a model): words drawn from a fixed vocabulary by a PRNG seeded with a hash of
 * the prompt and the sampling parameters, plus the server's own token-counting rule.
 *
 * Pure and runtime-agnostic (no node:* imports), so tests and other code — in Node or in workerd —
 * can compute exactly what the server will answer.
 */

/** `max_tokens` / `max_new_tokens` when the request does not say. */
export const DEFAULT_MAX_TOKENS = 16;

/**
 * Words the generator draws from. Word tokens are emitted with a leading space (except the very
 * first token); "," and "." attach to the previous word. A few multi-byte entries ("café", "naïve",
 * "über", "🙂") make streamed byte splits land inside a UTF-8 sequence now and then.
 */
export const VOCABULARY: readonly string[] = [
  'the',
  'model',
  'server',
  'token',
  'stream',
  'edge',
  'gateway',
  'request',
  'response',
  'latency',
  'tenant',
  'cache',
  'limit',
  'route',
  'backend',
  'endpoint',
  'signal',
  'vector',
  'matrix',
  'kernel',
  'batch',
  'queue',
  'window',
  'budget',
  'answer',
  'quiet',
  'rapid',
  'steady',
  'bright',
  'simple',
  'north',
  'river',
  'stone',
  'cloud',
  'green',
  'amber',
  'silver',
  'orbit',
  'harbor',
  'meadow',
  'lantern',
  'compass',
  'ledger',
  'beacon',
  'thread',
  'pulse',
  'echo',
  'delta',
  'sigma',
  'omega',
  'and',
  'of',
  'to',
  'in',
  'with',
  'for',
  'is',
  'a',
  'café',
  'naïve',
  'über',
  '🙂',
  ',',
  '.',
];

/** Token ids are the vocabulary index plus this offset (ids below it are "special"). */
export const TOKEN_ID_OFFSET = 1000;

const PUNCTUATION = new Set([',', '.']);
const WORD_INDICES = VOCABULARY.flatMap((word, i) => (PUNCTUATION.has(word) ? [] : [i]));

/** What the generator needs: a rendered prompt and sampling parameters. */
export interface GenerationParams {
  /** The prompt text (chat messages rendered with {@link renderChatPrompt}). */
  readonly prompt: string;
  /** Tokens to generate unless a stop sequence ends the output first (≥ 1). */
  readonly maxTokens: number;
  /** 0 means greedy: the seed is then ignored, as vLLM and TGI ignore it. */
  readonly temperature: number;
  readonly topP: number;
  readonly seed: number | null;
  /** Stop sequences: the output ends just before the first occurrence of any of them. */
  readonly stop: readonly string[];
}

/** One generated token. */
export interface GeneratedToken {
  /** Vocabulary index + {@link TOKEN_ID_OFFSET}. */
  readonly id: number;
  /** The token's text as sampled (what TGI streams as `token.text`). */
  readonly raw: string;
  /**
   * This token's share of {@link Generation.text}: `raw`, clipped where a stop sequence cut the
   * output (possibly ""). Concatenating every `text` gives `Generation.text` exactly.
   */
  readonly text: string;
  /** A deterministic pseudo log-probability in (-3, 0]. */
  readonly logprob: number;
}

/** The full result of one generation. */
export interface Generation {
  /** The output with OpenAI semantics: ends before the stop sequence, which is not included. */
  readonly text: string;
  /** Every sampled token's text concatenated (TGI semantics: includes the stop sequence). */
  readonly rawText: string;
  readonly tokens: readonly GeneratedToken[];
  /** `stop` when a stop sequence ended the output, else `length`. */
  readonly finishReason: 'length' | 'stop';
  /** The stop sequence that matched, if any. */
  readonly stopSequence: string | null;
  /** {@link countTokens} of the prompt. */
  readonly promptTokens: number;
  /** Tokens generated, including the one that completed a stop sequence (= `tokens.length`). */
  readonly completionTokens: number;
}

const TOKEN_PATTERN = /[\p{L}\p{N}\p{M}]+|[^\s\p{L}\p{N}\p{M}]/gu;

/**
 * The server's token-counting rule: every maximal run of letters/digits (with combining marks) is
 * one token, and every other non-whitespace character is one token; whitespace is free.
 * `"Hello, world!"` → 4. For generated text without stop truncation this equals the number of
 * generated tokens.
 */
export function countTokens(text: string): number {
  return text.match(TOKEN_PATTERN)?.length ?? 0;
}

/** Splits text into the pieces {@link countTokens} counts (used for TGI `prefill` details). */
export function tokenize(text: string): string[] {
  return text.match(TOKEN_PATTERN) ?? [];
}

/** A chat message as the generator sees it (content already flattened to text). */
export interface ChatTurn {
  readonly role: string;
  readonly content: string;
}

/**
 * Renders chat messages into the prompt the generator hashes and counts: each message as
 * `<|role|>\n{content}\n`, followed by `<|assistant|>\n` (a generation prompt, like a chat template).
 * Chat `prompt_tokens` = `countTokens(renderChatPrompt(messages))`.
 */
export function renderChatPrompt(messages: readonly ChatTurn[]): string {
  return `${messages.map((m) => `<|${m.role}|>\n${m.content}\n`).join('')}<|assistant|>\n`;
}

/** 32-bit FNV-1a over the UTF-8 bytes of `text`. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** mulberry32: a small, fast, well-mixed PRNG; returns floats in [0, 1). */
export function createRng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The PRNG seed for a request: a hash of the prompt, temperature, top_p and seed. `maxTokens` and
 * `stop` are left out, so a shorter `max_tokens` yields a prefix of a longer one.
 */
export function generationSeed(params: Pick<GenerationParams, 'prompt' | 'temperature' | 'topP' | 'seed'>): number {
  const greedy = params.temperature === 0;
  const key = JSON.stringify([params.prompt, greedy ? 0 : params.temperature, greedy ? 1 : params.topP, greedy ? null : params.seed]);
  return fnv1a(key);
}

function sampleTokens(params: GenerationParams): { index: number; raw: string; logprob: number }[] {
  const rng = createRng(generationSeed(params));
  const out: { index: number; raw: string; logprob: number }[] = [];
  let previousWasPunctuation = true;
  for (let i = 0; i < params.maxTokens; i++) {
    const pool = previousWasPunctuation ? WORD_INDICES : null;
    const index = pool ? (pool[Math.floor(rng() * pool.length)] ?? 0) : Math.floor(rng() * VOCABULARY.length);
    const word = VOCABULARY[index] ?? 'the';
    const punctuation = PUNCTUATION.has(word);
    out.push({ index, raw: punctuation || i === 0 ? word : ` ${word}`, logprob: -Math.round(rng() * 3000) / 1000 });
    previousWasPunctuation = punctuation;
  }
  return out;
}

/** Earliest occurrence of any stop sequence in `text` at or after `from`. */
function findStop(text: string, stops: readonly string[], from: number): { at: number; stop: string } | null {
  let best: { at: number; stop: string } | null = null;
  for (const stop of stops) {
    if (stop === '') continue;
    const at = text.indexOf(stop, Math.max(0, from - stop.length + 1));
    if (at >= 0 && (best === null || at < best.at)) best = { at, stop };
  }
  return best;
}

/**
 * Generates the deterministic output for `params`. Same params → same output; a different seed
 * (with temperature > 0), prompt, temperature or top_p → a different one.
 */
export function generate(params: GenerationParams): Generation {
  const sampled = sampleTokens(params);
  let rawText = '';
  let cut: { at: number; stop: string } | null = null;
  let used = 0;
  for (const token of sampled) {
    const before = rawText.length;
    rawText += token.raw;
    used++;
    cut = findStop(rawText, params.stop, before);
    if (cut) break;
  }
  const text = cut ? rawText.slice(0, cut.at) : rawText;
  const tokens: GeneratedToken[] = [];
  let offset = 0;
  for (const token of sampled.slice(0, used)) {
    const start = Math.min(offset, text.length);
    const end = Math.min(offset + token.raw.length, text.length);
    tokens.push({ id: token.index + TOKEN_ID_OFFSET, raw: token.raw, text: text.slice(start, end), logprob: token.logprob });
    offset += token.raw.length;
  }
  return {
    text,
    rawText,
    tokens,
    finishReason: cut ? 'stop' : 'length',
    stopSequence: cut?.stop ?? null,
    promptTokens: countTokens(params.prompt),
    completionTokens: tokens.length,
  };
}

const PIECE_PATTERN = /\s*(?:[\p{L}\p{N}\p{M}]+|[^\s\p{L}\p{N}\p{M}])/gu;

/** `text` in the pieces it streams as: one per counted token, each with the whitespace before it. */
export function textPieces(text: string): string[] {
  return text.match(PIECE_PATTERN) ?? [];
}

/**
 * A generation whose text is given rather than sampled (a tool call's arguments, JSON for a
 * schema), one token per piece of {@link textPieces}; it ends with `stop`.
 */
export function fixedGeneration(text: string, params: GenerationParams): Generation {
  const tokens = textPieces(text).map((piece, i) => ({ id: TOKEN_ID_OFFSET + i, raw: piece, text: piece, logprob: 0 }));
  return { text, rawText: text, tokens, finishReason: 'stop', stopSequence: null, promptTokens: countTokens(params.prompt), completionTokens: tokens.length };
}
