/**
 * Test support: signs requests the way real clients do (aws4fetch, as the edge signs, and
 * @smithy/signature-v4, as the AWS SDK signs), offline and with a fixed clock, and turns a
 * URL into what the host sees on the wire.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';
import { AwsV4Signer } from 'aws4fetch';
import { uriEncode, type SigV4Request, sha256Hex } from './sigv4';
import type { LocalCredentials } from './types';

/** A request to sign. */
export interface SignInput {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string;
  credentials: LocalCredentials;
  region: string;
  service?: string;
  /** Signing time, epoch ms. Default now. */
  time?: number;
}

/** AWS basic ISO-8601 timestamp (`20150830T123600Z`). */
export function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/** Signs with aws4fetch's AwsV4Signer; returns the headers to send (incl. Authorization). */
export async function signWithAws4fetch(input: SignInput): Promise<Record<string, string>> {
  const signer = new AwsV4Signer({
    url: input.url,
    method: input.method ?? 'GET',
    headers: input.headers ?? {},
    body: input.body,
    accessKeyId: input.credentials.accessKeyId,
    secretAccessKey: input.credentials.secretAccessKey,
    sessionToken: input.credentials.sessionToken,
    service: input.service ?? 'lambda',
    region: input.region,
    datetime: amzDate(input.time ?? Date.now()),
  });
  const signed = await signer.sign();
  return Object.fromEntries(signed.headers.entries());
}

function toBytes(data: SourceData): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(data);
}

/** node:crypto SHA-256 / HMAC-SHA256 in the shape @smithy/signature-v4 expects. */
class NodeSha256 implements Checksum {
  #secret: SourceData | undefined;
  #hash: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.#secret = secret;
    this.#hash = this.#fresh();
  }
  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(this.#secret));
  }
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}

/**
 * Signs with @smithy/signature-v4 (the AWS SDK's signer). `path` is the wire path (already
 * percent-encoded), `query` decoded values; returns the headers and the wire URL to call.
 */
export async function signWithSmithy(
  input: Omit<SignInput, 'url'> & { origin: string; path: string; query?: Record<string, string | string[]> },
): Promise<{ url: string; headers: Record<string, string> }> {
  const origin = new URL(input.origin);
  const signer = new SignatureV4({
    credentials: {
      accessKeyId: input.credentials.accessKeyId,
      secretAccessKey: input.credentials.secretAccessKey,
      ...(input.credentials.sessionToken ? { sessionToken: input.credentials.sessionToken } : {}),
    },
    region: input.region,
    service: input.service ?? 'lambda',
    sha256: NodeSha256,
  });
  const signed = await signer.sign(
    {
      method: input.method ?? 'GET',
      protocol: origin.protocol,
      hostname: origin.hostname,
      port: Number(origin.port),
      path: input.path,
      query: input.query ?? {},
      headers: { host: origin.host, ...(input.headers ?? {}) },
      body: input.body,
    },
    { signingDate: new Date(input.time ?? Date.now()) },
  );
  const search = Object.entries(input.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((value) => `${uriEncode(k)}=${uriEncode(value)}`))
    .join('&');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') headers[name] = String(value);
  return { url: `${origin.origin}${input.path}${search ? `?${search}` : ''}`, headers };
}

/** What the host would see for a request to `url` with these headers and body. */
export function wireRequest(url: string, method: string, headers: Record<string, string>, body: Uint8Array | string = ''): SigV4Request {
  const parsed = new URL(url);
  const lower: Record<string, string> = { host: parsed.host };
  for (const [name, value] of Object.entries(headers)) lower[name.toLowerCase()] = value;
  return { method, path: parsed.pathname, query: parsed.search.slice(1), headers: lower, bodySha256: sha256Hex(body) };
}
