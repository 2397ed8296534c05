/**
 * Webhook signature verification over the raw body bytes, before anything parses them (STYLE §7).
 * The `{source}` path parameter selects the source's scheme and secrets (edge/queues/settings.ts):
 * Standard Webhooks (`webhook-id` / `webhook-timestamp` / `webhook-signature`) or the `t=,v1=`
 * scheme in the source's header (`X-Signature`, with `X-Timestamp` allowed; Stripe-Signature).
 * Unknown source 404, wrong content type 415, too large 413, bad or stale signature 401.
 */
import type { MiddlewareHandler } from 'hono';
import { verifyStandardWebhook, verifyTimestampSignature, type VerifyResult } from '../../shared/crypto/hmac';
import { ApiError } from '../errors';
import type { AppEnv } from '../env';
import { getAsyncSettings, SOURCE_NAME, type WebhookSource } from '../queues/settings';

/** What a verified delivery puts on the context. */
export interface VerifiedWebhook {
  readonly source: WebhookSource;
  /** The exact bytes that were signed. */
  readonly rawBody: Uint8Array;
  /**
   * The signed delivery id: `webhook-id` under Standard Webhooks (it is part of what is signed).
   * Undefined under the `t=,v1=` scheme, whose signature covers only the body: the route dedupes
   * on the body's `id` there, never on an unsigned header.
   */
  readonly deliveryId: string | undefined;
  /** The unsigned `Idempotency-Key` header, if any: under the `t=,v1=` scheme it must equal the body's `id`. */
  readonly idempotencyKey: string | undefined;
  readonly timestamp: number;
}

export interface WebhookVariables {
  webhook: VerifiedWebhook;
}

export interface WebhookSignatureOptions {
  /** Clock in ms, injectable for tests. */
  readonly now?: () => number;
}

const MESSAGES: Record<Exclude<VerifyResult, { ok: true }>['reason'], string> = {
  missing_header: 'missing signature headers',
  malformed_header: 'malformed signature header',
  timestamp_out_of_window: 'signature timestamp is outside the accepted window',
  no_matching_signature: 'no signature matches',
  no_secret: 'this source has no usable secret',
};

async function readLimited(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new ApiError('INVALID_INPUT', `request body exceeds ${maxBytes} bytes`, { status: 413, details: { limit_bytes: maxBytes } });
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** Verifies the delivery's signature; sets `webhook` on the context. */
export function webhookSignature(options: WebhookSignatureOptions = {}): MiddlewareHandler<AppEnv> {
  const now = options.now ?? Date.now;
  return async function webhookSignatureMiddleware(c, next) {
    const name = c.req.param('source') ?? '';
    const settings = getAsyncSettings(c.env);
    const source = SOURCE_NAME.test(name) ? settings.sources.get(name) : undefined;
    if (!source) throw new ApiError('NOT_FOUND', `unknown webhook source '${name.slice(0, 64)}'`);
    if (!/^application\/json\s*(;|$)/i.test(c.req.header('content-type') ?? '')) {
      throw new ApiError('INVALID_INPUT', 'Content-Type must be application/json', { status: 415 });
    }
    const maxBytes = c.get('config').maxBodyBytes;
    const declared = Number(c.req.header('content-length') ?? '0');
    if (declared > maxBytes) throw new ApiError('INVALID_INPUT', `request body exceeds ${maxBytes} bytes`, { status: 413, details: { limit_bytes: maxBytes } });
    const rawBody = await readLimited(c.req.raw.body, maxBytes);

    const nowSeconds = Math.floor(now() / 1000);
    const common = { body: rawBody, secrets: source.secrets, nowSeconds, toleranceSeconds: settings.toleranceSeconds };
    const result =
      source.scheme === 'standard'
        ? await verifyStandardWebhook({
            ...common,
            id: c.req.header('webhook-id'),
            timestamp: c.req.header('webhook-timestamp'),
            signature: c.req.header('webhook-signature'),
          })
        : await verifyTimestampSignature({ ...common, header: c.req.header(source.header), timestampHeader: c.req.header('x-timestamp') });
    if (!result.ok) {
      throw new ApiError('UNAUTHORIZED', `webhook signature refused: ${MESSAGES[result.reason]}`, { details: { reason: result.reason } });
    }
    const deliveryId = source.scheme === 'standard' ? c.req.header('webhook-id')?.slice(0, 256) || undefined : undefined;
    const idempotencyKey = c.req.header('idempotency-key');
    c.set('webhook', { source, rawBody, deliveryId, idempotencyKey, timestamp: result.timestamp });
    await next();
  };
}
