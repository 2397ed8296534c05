/**
 * Embedding vectors as the gateway holds and answers them: float32 (what the models compute and
 * what OpenAI's `base64` encoding carries), as little-endian float32 bytes in base64 for a
 * `base64` answer and for the cache entry, and back.
 */

/** The vector rounded to float32, as a `float` answer gives it (equal to the decoded `base64` one). */
export const float32 = (vector: readonly number[]): number[] => Array.from(Float32Array.from(vector));

/** Little-endian float32 bytes, base64-encoded (OpenAI's `encoding_format: "base64"`). */
export function vectorToBase64(vector: readonly number[]): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (const [i, v] of vector.entries()) view.setFloat32(i * 4, v, true);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The vector of {@link vectorToBase64}'s text. */
export function base64ToVector(text: string): number[] {
  const binary = atob(text);
  const view = new DataView(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i++) view.setUint8(i, binary.charCodeAt(i));
  return Array.from({ length: binary.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}
