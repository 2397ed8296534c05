/**
 * The one token estimate used where a container reports no usage and wherever the edge must guess
 * before a call: ~4 UTF-8 bytes per token, at least 1 for non-empty text. Real tokenizers vary by
 * model; this errs on the high side for English and is stable across runtimes.
 */

const encoder = new TextEncoder();

export function estimateTokens(text: string): number {
  if (text.length === 0) return 0;
  return Math.max(1, Math.ceil(encoder.encode(text).length / 4));
}
