/**
 * `webhook send`: signs and sends one event to the gateway's webhook ingest the way a real sender
 * does, so a new user sees a verified event become a job (or a bus event, or a forward). The body is
 * `{id, type, payload}`; the signature is Standard Webhooks (the `standardwebhooks` library: headers
 * `webhook-id`, `webhook-timestamp`, `webhook-signature`) or `t=<unix>,v1=<hex>` in `X-Signature`.
 * The URL, secret and scheme come from flags or from the running local stack's stack.json
 * (`webhook: {source, scheme, secret, url}`); `--wait` then polls `GET /v1/jobs/{job_id}` with an
 * API key (`--key`, or stack.json's `apiKey`) until the job is done.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { signTimestampSignature } from '../../shared/crypto/hmac';
import { TenancyError } from '../tenancy/store';
import { optString, parseDuration, requireString, UsageError } from './args';
import type { Command, CommandInput } from './command';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCHEMES = ['standard', 'x-signature'] as const;
type Scheme = (typeof SCHEMES)[number];
/** Bound of one HTTP call to the gateway. */
const REQUEST_TIMEOUT_MS = 30_000;
/** How often `--wait` asks for the job. */
const POLL_INTERVAL_MS = 500;
const DEFAULT_WAIT = '2m';

/** What stack.json says about the local stack's webhook source and gateway. */
interface StackInfo {
  readonly gatewayUrl?: string;
  readonly apiKey?: string;
  readonly webhook?: { readonly source?: string; readonly scheme?: string; readonly secret?: string; readonly url?: string };
}

async function readStack(env: CommandInput['env']): Promise<StackInfo> {
  const path = join(env?.STACK_STATE_DIR || join(REPO_ROOT, '.local'), 'stack.json');
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as unknown;
    return typeof info === 'object' && info !== null ? (info as StackInfo) : {};
  } catch {
    return {};
  }
}

function parseScheme(text: string): Scheme {
  // `timestamp` is what WEBHOOK_SOURCES calls the X-Signature scheme.
  if (text === 'timestamp') return 'x-signature';
  const scheme = SCHEMES.find((s) => s === text);
  if (!scheme) throw new UsageError(`unknown scheme '${text}' (expected ${SCHEMES.join(' or ')})`);
  return scheme;
}

function parseUrl(text: string, what: string): URL {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  throw new UsageError(`${what} is not an http(s) URL: '${text}'`);
}

/** The signature headers of `body` for `scheme`. */
function signatureHeaders(
  scheme: Scheme,
  secret: string,
  id: string,
  seconds: number,
  body: string,
  header: string,
): Promise<Record<string, string>> | Record<string, string> {
  if (scheme === 'x-signature') return signTimestampSignature(secret, seconds, body).then((value) => ({ [header]: value }));
  let signature: string;
  try {
    signature = new Webhook(secret).sign(id, new Date(seconds * 1000), body);
  } catch {
    throw new UsageError('the secret is not a Standard Webhooks secret (whsec_<base64>)');
  }
  return { 'webhook-id': id, 'webhook-timestamp': String(seconds), 'webhook-signature': signature };
}

/** fetch with the CLI's deadline; a transport failure becomes a one-line reason. */
async function call(input: CommandInput, url: URL, init: RequestInit): Promise<{ status: number; json: unknown; text: string }> {
  let res: Response;
  try {
    res = await (input.fetch ?? fetch)(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
      throw new TenancyError('CONFLICT', `${url.origin} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
    const cause = err instanceof Error && err.cause instanceof Error ? ((err.cause as NodeJS.ErrnoException).code ?? err.cause.message) : undefined;
    throw new TenancyError('CONFLICT', `cannot reach ${url.origin}${cause ? ` (${cause})` : ''} (is the local stack running? npm start)`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

function errorOf(json: unknown): string {
  const error = (json as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return error ? `${String(error.code ?? '')} ${String(error.message ?? '')}`.trim() : 'no details';
}

interface JobView {
  readonly id: string;
  readonly status: string;
  readonly result?: { readonly output?: string };
  readonly error?: { readonly code?: string; readonly message?: string };
}

async function waitForJob(input: CommandInput, origin: string, jobId: string, key: string, waitMs: number): Promise<JobView> {
  const url = new URL(`/v1/jobs/${encodeURIComponent(jobId)}`, origin);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const { status, json } = await call(input, url, { headers: { authorization: `Bearer ${key}` } });
    if (status !== 200) throw new TenancyError(status === 404 ? 'NOT_FOUND' : 'CONFLICT', `GET /v1/jobs/${jobId} answered ${status}: ${errorOf(json)}`);
    const job = json as JobView;
    if (job.status === 'succeeded' || job.status === 'failed') return job;
    if (Date.now() + POLL_INTERVAL_MS > deadline)
      throw new TenancyError('CONFLICT', `job ${jobId} is still ${job.status} after ${Math.round(waitMs / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** `webhook send`. */
export const webhookSendCommands: readonly Command[] = [
  {
    name: 'webhook send',
    usage:
      '--type TYPE [--payload JSON] [--source NAME] [--id ID] [--scheme standard|x-signature] [--url URL] [--secret SECRET] [--wait [--key KEY] [--timeout DURATION]]',
    summary: 'sign and send a test event to the webhook ingest, as a real sender would; --wait waits for the job it starts',
    details: [
      'The body is {id, type, payload}. --scheme standard (default) signs with the standardwebhooks library (webhook-id,',
      'webhook-timestamp, webhook-signature; the secret is whsec_…); x-signature sends X-Signature: t=<unix>,v1=<hex>',
      '(--header to name another header, e.g. Stripe-Signature). Without --url/--secret/--scheme the running local stack',
      'is used (.local/stack.json: webhook.url, webhook.secret, webhook.scheme; --source defaults to webhook.source).',
      'The same --id twice is a replay: the gateway answers 200 with the first answer. --wait polls GET /v1/jobs/{job_id}',
      "with --key (default stack.json's apiKey) until the job succeeds or fails, at most --timeout (default 2m).",
    ],
    positionals: [],
    store: false,
    options: {
      type: { type: 'string' },
      payload: { type: 'string' },
      source: { type: 'string' },
      id: { type: 'string' },
      scheme: { type: 'string' },
      header: { type: 'string' },
      url: { type: 'string' },
      secret: { type: 'string' },
      wait: { type: 'boolean' },
      key: { type: 'string' },
      timeout: { type: 'string' },
    },
    async run(input) {
      const { options } = input;
      const type = requireString(options, 'type');
      if (type.length < 1 || type.length > 128) throw new UsageError('--type must be 1–128 characters');
      const id = optString(options, 'id') ?? `evt_${crypto.randomUUID().replaceAll('-', '')}`;
      if (id.length > 256 || !/^[\x21-\x7e]+$/.test(id)) throw new UsageError('--id must be 1–256 printable characters without spaces');
      let payload: unknown = {};
      const payloadText = optString(options, 'payload');
      if (payloadText !== undefined) {
        try {
          payload = JSON.parse(payloadText);
        } catch (err) {
          throw new UsageError(`--payload is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      const waitMs = parseDuration(optString(options, 'timeout') ?? DEFAULT_WAIT, 'timeout');

      const stack = await readStack(input.env);
      const source = optString(options, 'source') ?? stack.webhook?.source;
      if (!source) throw new UsageError('--source is required (no local stack with a webhook source is running)');
      // stack.json describes one source: its URL, secret and scheme apply to that source only.
      const local = stack.webhook?.source === source ? stack.webhook : undefined;
      const scheme = parseScheme(optString(options, 'scheme') ?? local?.scheme ?? 'standard');
      const secret = optString(options, 'secret') ?? local?.secret;
      if (!secret) throw new UsageError(`no secret for source '${source}': pass --secret (or start the local stack, whose stack.json has webhook.secret)`);
      const urlText =
        optString(options, 'url') ??
        local?.url ??
        (stack.gatewayUrl ? `${stack.gatewayUrl.replace(/\/+$/, '')}/webhooks/${encodeURIComponent(source)}` : undefined);
      if (!urlText) throw new UsageError('no gateway: pass --url (the webhook URL, e.g. https://gw.example.com/webhooks/ingest) or start the local stack');
      const url = parseUrl(urlText, '--url');
      const header = optString(options, 'header') ?? 'X-Signature';

      const body = JSON.stringify({ id, type, payload });
      const signed = await signatureHeaders(scheme, secret, id, Math.floor(input.now / 1000), body, header);
      const answer = await call(input, url, { method: 'POST', headers: { 'content-type': 'application/json', ...signed }, body });
      if (answer.status < 200 || answer.status > 299) {
        throw new TenancyError(answer.status === 404 ? 'NOT_FOUND' : 'CONFLICT', `the gateway answered ${answer.status}: ${errorOf(answer.json)}`);
      }
      const accepted = (answer.json ?? {}) as { job_id?: unknown };
      const jobId = typeof accepted.job_id === 'string' ? accepted.job_id : undefined;
      const lines = [
        `${answer.status === 200 ? 'Duplicate (the first answer)' : 'Accepted'}: HTTP ${answer.status} from ${url.origin}${url.pathname} (${scheme}, event ${id})`,
        answer.text.trim(),
        ...(jobId ? [`job_id: ${jobId}`] : []),
      ];
      const data: Record<string, unknown> = {
        status: answer.status,
        id,
        scheme,
        url: url.toString(),
        answer: answer.json ?? answer.text,
        ...(jobId ? { jobId } : {}),
      };
      if (options.wait === true) {
        if (!jobId) throw new TenancyError('NOT_FOUND', `--wait needs a job, but the answer has no job_id (is '${type}' mapped to a job action?)`);
        const key = optString(options, 'key') ?? stack.apiKey;
        if (!key) throw new UsageError('--wait needs an API key with the jobs scope: pass --key (or start the local stack)');
        const job = await waitForJob(input, url.origin, jobId, key, waitMs);
        data.job = job;
        if (job.status === 'failed') throw new TenancyError('CONFLICT', `job ${jobId} failed: ${job.error?.code ?? ''} ${job.error?.message ?? ''}`.trimEnd());
        lines.push(`job ${jobId} succeeded:`, job.result?.output ?? JSON.stringify(job.result));
      }
      return { text: lines.join('\n'), data };
    },
  },
];
