/**
 * Webhook signatures on WebCrypto (workerd, Node ≥ 20, Lambda): HMAC-SHA256 sign/verify with a
 * constant-time compare, for the two schemes the gateway speaks (SPEC §5):
 *
 * - `t/v1` (the original contract, and Stripe's documented scheme): `X-Signature: t=<unix>,v1=<hex>`
 *   over `"<t>.<raw body>"`; the secret's UTF-8 bytes are the key; `t` may come in `X-Timestamp`.
 * - Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …` over
 *   `"<id>.<timestamp>.<raw body>"`; secrets are `whsec_<base64>` and the key is the decoded bytes.
 *
 * Every verifier accepts several secrets (rotation) and several signatures per header, and refuses
 * timestamps outside ±tolerance seconds (past and future).
 */

import { toHex } from './hash';

const encoder = new TextEncoder();

/** Default timestamp window, seconds either side of now. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** Why a signature was refused; safe to show the sender. */
export type SignatureFailure = 'missing_header' | 'malformed_header' | 'timestamp_out_of_window' | 'no_matching_signature' | 'no_secret';

export type VerifyResult = { readonly ok: true; readonly timestamp: number } | { readonly ok: false; readonly reason: SignatureFailure };

/** Compares two byte arrays in time that depends only on their length (lengths are not secret). */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** HMAC-SHA256 of `parts` (joined as bytes) under `key`. */
export async function hmacSha256(key: Uint8Array, ...parts: (string | Uint8Array)[]): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const chunks = parts.map((p) => (typeof p === 'string' ? encoder.encode(p) : p));
  const data = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    data.set(c, offset);
    offset += c.length;
  }
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, data));
}

/** Bytes of a hex string, or undefined when it is not hex. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Standard base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Bytes of standard base64, or undefined when it does not decode. */
export function fromBase64(text: string): Uint8Array | undefined {
  try {
    const s = atob(text);
    return Uint8Array.from(s, (ch) => ch.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The key bytes of a Standard Webhooks secret (`whsec_<base64>`), or undefined when malformed. */
export function standardWebhookKey(secret: string): Uint8Array | undefined {
  if (!secret.startsWith('whsec_')) return undefined;
  const key = fromBase64(secret.slice('whsec_'.length));
  return key && key.length >= 16 ? key : undefined;
}

/** A new Standard Webhooks secret: `whsec_` + 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

function inWindow(timestamp: number, nowSeconds: number, toleranceSeconds: number): boolean {
  return Math.abs(nowSeconds - timestamp) <= toleranceSeconds;
}

const UNIX_SECONDS = /^\d{1,12}$/;

export interface TimestampSchemeInput {
  /** The signature header's value (`t=<unix>,v1=<hex>[,v1=…]`). */
  readonly header: string | undefined;
  /** `X-Timestamp`, used when the header carries no `t=`. */
  readonly timestampHeader?: string | undefined;
  readonly body: Uint8Array;
  /** Plain secrets; their UTF-8 bytes are the HMAC keys (as Stripe's `whsec_…` are). */
  readonly secrets: readonly string[];
  readonly nowSeconds: number;
  readonly toleranceSeconds?: number;
}

/** Verifies the `t=<unix>,v1=<hex>` scheme (X-Signature, Stripe-Signature). */
export async function verifyTimestampSignature(input: TimestampSchemeInput): Promise<VerifyResult> {
  if (input.secrets.length === 0) return { ok: false, reason: 'no_secret' };
  if (!input.header) return { ok: false, reason: 'missing_header' };
  let t = input.timestampHeader?.trim();
  const signatures: Uint8Array[] = [];
  for (const part of input.header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (name === 't') t = value;
    else if (name === 'v1') {
      const bytes = fromHex(value);
      if (bytes && bytes.length === 32) signatures.push(bytes);
    }
  }
  if (!t || !UNIX_SECONDS.test(t) || signatures.length === 0) return { ok: false, reason: 'malformed_header' };
  const timestamp = Number(t);
  if (!inWindow(timestamp, input.nowSeconds, input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'timestamp_out_of_window' };
  for (const secret of input.secrets) {
    const expected = await hmacSha256(encoder.encode(secret), `${t}.`, input.body);
    // Every candidate is compared (no early exit on the first byte), and any match accepts.
    if (signatures.some((sig) => timingSafeEqual(sig, expected))) return { ok: true, timestamp };
  }
  return { ok: false, reason: 'no_matching_signature' };
}

/** Signs for the `t/v1` scheme: the header value `t=<t>,v1=<hex>`. */
export async function signTimestampSignature(secret: string, timestamp: number, body: Uint8Array | string): Promise<string> {
  const bytes = typeof body === 'string' ? encoder.encode(body) : body;
  return `t=${timestamp},v1=${toHex(await hmacSha256(encoder.encode(secret), `${timestamp}.`, bytes))}`;
}

export interface StandardWebhookInput {
  readonly id: string | undefined;
  readonly timestamp: string | undefined;
  /** `webhook-signature`: space-separated `v1,<base64>` entries. */
  readonly signature: string | undefined;
  readonly body: Uint8Array;
  /** `whsec_<base64>` secrets. */
  readonly secrets: readonly string[];
  readonly nowSeconds: number;
  readonly toleranceSeconds?: number;
}

/** Verifies a Standard Webhooks delivery. */
export async function verifyStandardWebhook(input: StandardWebhookInput): Promise<VerifyResult> {
  const keys = input.secrets.map(standardWebhookKey).filter((k): k is Uint8Array => k !== undefined);
  if (keys.length === 0) return { ok: false, reason: 'no_secret' };
  if (!input.id || !input.timestamp || !input.signature) return { ok: false, reason: 'missing_header' };
  if (!UNIX_SECONDS.test(input.timestamp) || input.id.length > 256) return { ok: false, reason: 'malformed_header' };
  const signatures = input.signature
    .split(' ')
    .map((entry) => entry.trim().split(','))
    .filter(([version, value]) => version === 'v1' && value)
    .map(([, value]) => fromBase64(value ?? ''))
    .filter((b): b is Uint8Array => b !== undefined && b.length === 32);
  if (signatures.length === 0) return { ok: false, reason: 'malformed_header' };
  const timestamp = Number(input.timestamp);
  if (!inWindow(timestamp, input.nowSeconds, input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'timestamp_out_of_window' };
  for (const key of keys) {
    const expected = await hmacSha256(key, `${input.id}.${input.timestamp}.`, input.body);
    if (signatures.some((sig) => timingSafeEqual(sig, expected))) return { ok: true, timestamp };
  }
  return { ok: false, reason: 'no_matching_signature' };
}

/**
 * Standard Webhooks headers for an outbound delivery, one `v1,` signature per secret (during a
 * rotation a receiver that knows either secret accepts it).
 */
export async function signStandardWebhook(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<{ 'webhook-id': string; 'webhook-timestamp': string; 'webhook-signature': string }> {
  const signatures: string[] = [];
  for (const secret of secrets) {
    const key = standardWebhookKey(secret);
    if (!key) throw new Error('a webhook secret is not a whsec_<base64> secret');
    signatures.push(`v1,${toBase64(await hmacSha256(key, `${id}.${timestampSeconds}.`, encoder.encode(body)))}`);
  }
  return { 'webhook-id': id, 'webhook-timestamp': String(timestampSeconds), 'webhook-signature': signatures.join(' ') };
}
