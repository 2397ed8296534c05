/**
 * A local HTTP receiver for the edge tests: stands in for a webhook forward target (the events
 * backend) and for tenants' callback URLs. Every path records what it receives (headers and raw
 * body) and answers 200. `PUT /_admin?path=P` with `{status?, reset?, hang?}` makes P answer that status,
 * drop the connection (a dead backend), or never answer (a stalled one), until changed; `GET /_admin?path=P` answers
 * `{hits, received: [{headers, body}]}`; `DELETE /_admin?path=P` forgets P.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';

/** What a path does instead of answering 200. */
interface Behaviour {
  readonly status?: number;
  readonly reset?: boolean;
  readonly hang?: boolean;
}

const HANG_CAP_MS = 120_000;

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Starts the receiver on a free loopback port. */
export async function startWebhookReceiver(): Promise<{ server: Server; url: string }> {
  const received = new Map<string, Received[]>();
  const hits = new Map<string, number>();
  const behaviour = new Map<string, Behaviour>();

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (url.pathname === '/_admin') {
        const path = url.searchParams.get('path') ?? '';
        if (req.method === 'PUT') behaviour.set(path, JSON.parse(body || '{}') as Behaviour);
        if (req.method === 'DELETE') {
          behaviour.delete(path);
          received.delete(path);
          hits.delete(path);
        }
        return json(200, { hits: hits.get(path) ?? 0, received: received.get(path) ?? [] });
      }
      hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
      const how = behaviour.get(url.pathname) ?? {};
      if (how.reset) {
        req.socket.destroy();
        return;
      }
      if (how.hang) {
        // No answer; the caller's timeout ends the exchange. The cap only keeps a forgotten socket from
        // holding the server open at teardown.
        setTimeout(() => req.socket.destroy(), HANG_CAP_MS).unref();
        return;
      }
      const status = how.status ?? 200;
      if (status >= 200 && status < 300) received.set(url.pathname, [...(received.get(url.pathname) ?? []), { headers: req.headers, body }]);
      json(status, { ok: status < 300 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

/** Secrets of the test sources, by source (the first of `ingest` is current, the second the previous; `jobs` and `limited` share one). */
export interface WebhookTestSecrets {
  readonly ingest: readonly [string, string];
  readonly stripe: string;
  readonly legacy: string;
  readonly jobs: string;
}

/** The tenants the job sources run as (the tests write their records): `jobs`, and `limited` and `late` (whose limits tests lower). */
export interface WebhookTestTenants {
  readonly jobs: string;
  readonly limited: string;
  readonly late: string;
}

/**
 * Worker settings for the edge tests: three sources forwarding to the receiver with the `forwardUrl`
 * shorthand (`ingest`: Standard Webhooks with two secrets mid-rotation; `stripe`: Stripe-Signature;
 * `legacy`: X-Signature); `jobs`, whose actions make jobs of its tenant from prompt and chat
 * templates (one with a small size cap), put `orders.*` on the event bus and forward `relay.*` to an
 * action URL; `limited` and `late`, every event a job of a tenant of its own; fast retries, few delivery attempts
 * with a short timeout, and loopback callbacks allowed (as on the local stack).
 */
export function webhookTestVars(
  receiverUrl: string,
  models: { readonly prompt: string; readonly chat: string },
): { vars: Record<string, string>; secrets: WebhookTestSecrets; tenants: WebhookTestTenants } {
  const whsec = () => `whsec_${randomBytes(32).toString('base64')}`;
  const secrets: WebhookTestSecrets = {
    ingest: [whsec(), whsec()],
    stripe: `whsec_${randomBytes(24).toString('hex')}`,
    legacy: randomBytes(24).toString('base64url'),
    jobs: whsec(),
  };
  const run = randomBytes(6).toString('hex');
  const tenants: WebhookTestTenants = { jobs: `ten_whjobs_${run}`, limited: `ten_whlimited_${run}`, late: `ten_whlate_${run}` };
  const job = (template: Record<string, unknown>) => ({ action: 'job', template: { model: models.prompt, ...template } });
  const sources = {
    ingest: { scheme: 'standard', secrets: ['WEBHOOK_SECRET_INGEST', 'WEBHOOK_SECRET_INGEST_PREVIOUS'], forwardUrl: `${receiverUrl}/events/ingest` },
    stripe: { scheme: 'timestamp', header: 'Stripe-Signature', secrets: ['WEBHOOK_SECRET_STRIPE'], forwardUrl: `${receiverUrl}/events/stripe` },
    legacy: { scheme: 'timestamp', secrets: ['WEBHOOK_SECRET_LEGACY'], forwardUrl: `${receiverUrl}/events/legacy` },
    jobs: {
      scheme: 'standard',
      secrets: ['WEBHOOK_SECRET_JOBS'],
      tenant: tenants.jobs,
      actions: {
        'summarize.*': job({ prompt: 'Summarize: {{payload.text}}', params: { max_tokens: 5 }, callbackUrl: `${receiverUrl}/callbacks/webhook-jobs` }),
        'ask.chat': job({
          model: models.chat,
          messages: [
            { role: 'system', content: 'Answer in one word.' },
            { role: 'user', content: '{{payload.question}}' },
          ],
          params: { max_tokens: 3 },
        }),
        'tiny.*': job({ prompt: 'Echo: {{payload.text}}', maxChars: 40 }),
        'orders.*': { action: 'eventbridge' },
        'relay.*': { action: 'forward', url: `${receiverUrl}/events/relay` },
      },
    },
    limited: {
      scheme: 'standard',
      secrets: ['WEBHOOK_SECRET_JOBS'],
      tenant: tenants.limited,
      actions: { '*': job({ prompt: 'Limited: {{payload.text}}', params: { max_tokens: 2 } }) },
    },
    late: {
      scheme: 'standard',
      secrets: ['WEBHOOK_SECRET_JOBS'],
      tenant: tenants.late,
      actions: { '*': job({ prompt: 'Late: {{payload.text}}', params: { max_tokens: 2 } }) },
    },
  };
  return {
    secrets,
    tenants,
    vars: {
      WEBHOOK_SOURCES: JSON.stringify(sources),
      WEBHOOK_SECRET_INGEST: secrets.ingest[0],
      WEBHOOK_SECRET_INGEST_PREVIOUS: secrets.ingest[1],
      WEBHOOK_SECRET_STRIPE: secrets.stripe,
      WEBHOOK_SECRET_LEGACY: secrets.legacy,
      WEBHOOK_SECRET_JOBS: secrets.jobs,
      QUEUE_RETRY_BASE_SECONDS: '1',
      DELIVERY_MAX_ATTEMPTS: '3',
      // A callback that never answers fails in a second, not in the default 30 s.
      DELIVERY_TIMEOUT_MS: '1000',
      CALLBACK_ALLOW_LOOPBACK: 'true',
    },
  };
}
