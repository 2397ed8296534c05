/**
 * Test support for webhook ingest inside workerd: signed senders for each scheme (Standard Webhooks
 * through the `standardwebhooks` package itself, Stripe's documented `t=,v1=` scheme, the legacy
 * X-Signature), and the local receiver's admin API (what it received, making it fail).
 */
import { SELF } from 'cloudflare:test';
import { inject } from 'vitest';
import { Webhook } from 'standardwebhooks';

export const BASE = 'https://gateway.test';
export const receiver = inject('webhookReceiverUrl');
export const secrets = inject('webhookSecrets');

/**
 * A random documentation-range client IP: each simulated sender gets its own, so the per-IP guard on
 * failed authentications (middleware/ip-limit.ts) does not lump every test request together.
 */
export const senderIp = () => `2001:db8::${crypto.randomUUID().slice(0, 4)}`;

/** A fresh event body `{id, type, payload}` with a unique id. */
export function newEvent(type = 'order.created', payload: unknown = { amount: 42 }) {
  return { id: `evt_${crypto.randomUUID().replaceAll('-', '')}`, type, payload };
}

/** Sends `body` to `/webhooks/<source>` (default `ingest`) signed by the `standardwebhooks` package. */
export function sendStandard(body: string, options: { msgId: string; secret?: string; at?: Date; headers?: Record<string, string>; source?: string }) {
  const at = options.at ?? new Date();
  const source = options.source ?? 'ingest';
  const secret = options.secret ?? (source === 'ingest' ? secrets.ingest[0] : secrets.jobs);
  const signature = new Webhook(secret).sign(options.msgId, at, body);
  return SELF.fetch(`${BASE}/webhooks/${source}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'cf-connecting-ip': senderIp(),
      'webhook-id': options.msgId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
      ...options.headers,
    },
    body,
  });
}

/** Sends `body` to `/webhooks/stripe` as Stripe documents it: `Stripe-Signature: t=…,v1=<hex HMAC of "t.body">`. */
export async function sendStripe(body: string, options: { secret?: string; at?: number } = {}) {
  const t = options.at ?? Math.floor(Date.now() / 1000);
  // Written from Stripe's docs, independently of shared/crypto/hmac.ts: key = the secret's bytes.
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(options.secret ?? secrets.stripe), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${t}.${body}`)));
  const header = `t=${t},v1=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')},v0=ignored`;
  return SELF.fetch(`${BASE}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': senderIp(), 'stripe-signature': header },
    body,
  });
}

/** What the receiver got on `path`. */
export async function receivedAt(path: string): Promise<{ hits: number; received: Array<{ headers: Record<string, string>; body: string }> }> {
  return (await fetch(`${receiver}/_admin?path=${encodeURIComponent(path)}`)).json();
}

/** Makes `path` answer `status`, drop connections (`reset`) or never answer (`hang`), until reset with {}. */
export async function receiverBehaves(path: string, how: { status?: number; reset?: boolean; hang?: boolean }): Promise<void> {
  await fetch(`${receiver}/_admin?path=${encodeURIComponent(path)}`, { method: 'PUT', body: JSON.stringify(how) });
}

/** The ids of the events forwarded to `path` (as the consumer sends them). */
export async function forwardedIds(path: string): Promise<string[]> {
  const { received } = await receivedAt(path);
  return received.map((r) => (JSON.parse(r.body) as { id: string }).id);
}
