/**
 * Signed webhook ingest: `POST /webhooks/{source}` (`/webhooks/ingest` is the source named
 * `ingest`). Signature over the raw bytes first (middleware/webhook-signature.ts), then the body
 * `{id, type, payload}`, then dedupe (SET NX per source and id), then the durable enqueue; only then
 * 202. A duplicate gets 200 with the first answer; a failed enqueue 503 + Retry-After and the id
 * is released. The queue consumer forwards events to the source's backend (queues/webhook-consumer.ts).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { sha256Hex } from '../../shared/crypto/hash';
import { ErrorEnvelopeSchema } from '../../shared/errors';
import { getConfig, type AppEnv } from '../env';
import { ApiError } from '../errors';
import { webhookSignature } from '../middleware/webhook-signature';
import { claim, dedupeKey, markAccepted, release } from '../queues/dedupe';
import { WebhookEventSchema } from '../queues/messages';
import { enqueue } from '../queues/producer';
import type { RouteDeps } from './common';
import { validationHook } from './validation';

const AcceptedSchema = z
  .object({ id: z.string(), source: z.string(), status: z.literal('accepted'), received_at: z.number().int() })
  .meta({ id: 'WebhookAccepted' });

const envelope = (description: string) => ({ description, content: { 'application/json': { schema: ErrorEnvelopeSchema } } });

export function webhookRoutes(deps: RouteDeps) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  const ingest = createRoute({
    method: 'post',
    path: '/webhooks/{source}',
    summary: 'Signed webhook ingest (Standard Webhooks, or X-Signature t=,v1=); durably enqueued before 2xx',
    middleware: [
      async function loadConfig(c, next) {
        c.set('config', getConfig(c.env));
        await next();
      },
      webhookSignature({ now: deps.now }),
    ],
    request: { params: z.object({ source: z.string().max(64) }) },
    responses: {
      202: { description: 'Stored: will be forwarded', content: { 'application/json': { schema: AcceptedSchema } } },
      200: { description: 'A duplicate: the first acceptance', content: { 'application/json': { schema: AcceptedSchema } } },
      400: envelope('INVALID_INPUT: body is not {id, type, payload}'),
      401: envelope('UNAUTHORIZED: missing, malformed or wrong signature, or timestamp outside the window'),
      404: envelope('NOT_FOUND: unknown source'),
      409: envelope('CONFLICT: the id was used with another body, or its first delivery is still being stored'),
      413: envelope('INVALID_INPUT: body too large'),
      415: envelope('INVALID_INPUT: Content-Type is not application/json'),
      503: envelope('UPSTREAM_ERROR: could not be stored; retry after Retry-After seconds'),
    },
  });

  app.openapi(ingest, async (c) => {
    const { source, rawBody, deliveryId: headerId } = c.get('webhook');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(rawBody));
    } catch {
      throw new ApiError('INVALID_INPUT', 'malformed JSON in request body');
    }
    const parsed = WebhookEventSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
      throw new ApiError('INVALID_INPUT', 'webhook body must be {id, type, payload}', { details: { issues } });
    }
    const event = parsed.data;
    const deliveryId = headerId ?? event.id;
    const store = deps.store(c.get('config'));
    const key = dedupeKey(source.name, deliveryId);
    const bodyHash = await sha256Hex(rawBody);
    const claimed = await claim(store, key, bodyHash);
    if (claimed.kind === 'duplicate') return c.json(AcceptedSchema.parse(claimed.response), 200);
    if (claimed.kind === 'conflict') throw new ApiError('CONFLICT', `delivery id '${deliveryId}' was already used with another body`);
    if (claimed.kind === 'in-flight')
      throw new ApiError('CONFLICT', `delivery '${deliveryId}' is still being stored; retry`, { headers: { 'Retry-After': '1' } });

    const receivedAt = deps.now();
    const accepted = { id: event.id, source: source.name, status: 'accepted' as const, received_at: Math.floor(receivedAt / 1000) };
    try {
      await enqueue(
        c.env,
        { kind: 'webhook', source: source.name, deliveryId, event, receivedAt, requestId: c.get('requestId') },
        { requestId: c.get('requestId') },
      );
    } catch (err) {
      await release(store, key, claimed.token).catch(() => {});
      throw err;
    }
    await markAccepted(store, key, claimed.token, bodyHash, accepted);
    return c.json(accepted, 202);
  });

  return app;
}
