/**
 * AWS Signature Version 4 (AWS4-HMAC-SHA256, signed in the `Authorization` header) for the edge's
 * calls to AWS: the adapters' Function URLs (service `lambda`, on every miss), EventBridge and
 * CloudWatch. The canonical request follows the rules for services other than S3 (the path
 * normalised and URI-encoded once more on top of its wire encoding, the query sorted and
 * RFC 3986-encoded, the same headers signed as aws4fetch signs), and the test beside this file
 * checks the signatures against aws4fetch's for the same inputs.
 *
 * Built for the hot path: the signing key (four chained HMACs of the secret, the date, the region
 * and the service) is derived and imported once per UTC day, so a request costs two SHA-256 digests
 * and one HMAC, and the signed call is a plain `fetch(url, init)`: no Request, Headers or URL
 * objects are built to sign it and thrown away.
 */

import { sha256Hex, toHex } from '../../shared/crypto/hash';
import { hmacSha256 } from '../../shared/crypto/hmac';

/** The credentials a signer signs with. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

/** A request to sign: header names as the caller writes them (signed lower-case). */
export interface SignableRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Headers a proxy may change on the way, left out of the signature (as aws4fetch leaves them out). */
const UNSIGNED = new Set([
  'authorization',
  'content-type',
  'content-length',
  'user-agent',
  'presigned-expires',
  'expect',
  'x-amzn-trace-id',
  'range',
  'connection',
]);

const encoder = new TextEncoder();

/** RFC 3986 on top of encodeURIComponent, which leaves `!'()*` alone. */
function rfc3986(encoded: string): string {
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical URI and query of `url` (non-S3 rules). */
function canonicalTarget(url: string): { readonly host: string; readonly path: string; readonly query: string } {
  const parsed = new URL(url);
  const path = rfc3986(encodeURIComponent(parsed.pathname.replace(/\/+/g, '/')).replace(/%2F/g, '/'));
  const pairs = [...parsed.searchParams]
    .filter(([k]) => k !== '')
    .map(([k, v]) => [rfc3986(encodeURIComponent(k)), rfc3986(encodeURIComponent(v))] as const)
    .sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0));
  return { host: parsed.host, path, query: pairs.map(([k, v]) => `${k}=${v}`).join('&') };
}

/** `YYYYMMDDTHHMMSSZ` of `date`. */
function amzDate(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** Signs requests for one service in one region with one set of credentials (see {@link signerFor}). */
export class SigV4Signer {
  readonly #credentials: AwsCredentials;
  readonly #region: string;
  readonly #service: string;
  // The signing key of the current UTC day (one entry: a new day replaces it).
  #key: { readonly day: string; readonly key: Promise<CryptoKey> } | undefined;
  // Canonical host, path and query by URL: a signer calls few URLs, over and over.
  readonly #targets = new Map<string, ReturnType<typeof canonicalTarget>>();

  constructor(credentials: AwsCredentials, region: string, service: string) {
    this.#credentials = credentials;
    this.#region = region;
    this.#service = service;
  }

  /** The signing key of `day` (YYYYMMDD), derived and imported once. */
  #signingKey(day: string): Promise<CryptoKey> {
    if (this.#key?.day === day) return this.#key.key;
    const key = (async () => {
      const kDate = await hmacSha256(encoder.encode(`AWS4${this.#credentials.secretAccessKey}`), day);
      const kRegion = await hmacSha256(kDate, this.#region);
      const kService = await hmacSha256(kRegion, this.#service);
      const kSigning = await hmacSha256(kService, 'aws4_request');
      return crypto.subtle.importKey('raw', kSigning, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    })();
    // A failed derivation is not kept: the next request derives again.
    key.catch(() => {
      if (this.#key?.key === key) this.#key = undefined;
    });
    this.#key = { day, key };
    return key;
  }

  #target(url: string): ReturnType<typeof canonicalTarget> {
    let target = this.#targets.get(url);
    if (!target) {
      target = canonicalTarget(url);
      // Bounded: the URLs come from configuration, but never let a caller grow this without limit.
      if (this.#targets.size >= 64) this.#targets.clear();
      this.#targets.set(url, target);
    }
    return target;
  }

  /** The request's headers with `x-amz-date`, the session token if any, and `authorization`. */
  async sign(request: SignableRequest, now: Date = new Date()): Promise<Record<string, string>> {
    const datetime = amzDate(now);
    const day = datetime.slice(0, 8);
    const target = this.#target(request.url);
    const headers: Record<string, string> = { ...request.headers, 'x-amz-date': datetime };
    if (this.#credentials.sessionToken) headers['x-amz-security-token'] = this.#credentials.sessionToken;
    const signable: Array<readonly [string, string]> = [['host', target.host]];
    for (const [name, value] of Object.entries(headers)) {
      const lower = name.toLowerCase();
      if (!UNSIGNED.has(lower) && lower !== 'host') signable.push([lower, value.trim().replace(/\s+/g, ' ')]);
    }
    signable.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const signedHeaders = signable.map(([name]) => name).join(';');
    const canonical = [
      request.method.toUpperCase(),
      target.path,
      target.query,
      `${signable.map(([name, value]) => `${name}:${value}`).join('\n')}\n`,
      signedHeaders,
      await sha256Hex(request.body),
    ].join('\n');
    const scope = `${day}/${this.#region}/${this.#service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${datetime}\n${scope}\n${await sha256Hex(canonical)}`;
    const signature = toHex(new Uint8Array(await crypto.subtle.sign('HMAC', await this.#signingKey(day), encoder.encode(stringToSign))));
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${this.#credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  /** Signs and sends a request (`fetch` is injectable for tests and for the caller's own fetch). */
  async fetch(
    url: string,
    init: { readonly method: string; readonly headers: Readonly<Record<string, string>>; readonly body: string; readonly signal?: AbortSignal | undefined },
    doFetch: typeof fetch = fetch,
  ): Promise<Response> {
    const headers = await this.sign({ method: init.method, url, headers: init.headers, body: init.body });
    return doFetch(url, { method: init.method, headers, body: init.body, ...(init.signal ? { signal: init.signal } : {}) });
  }
}

// One signer per isolate, credential set, region and service: what it keeps (the day's signing key,
// the canonical targets) only pays off when the signer outlives the call.
const signers = new Map<string, SigV4Signer>();

/** The isolate's signer for these credentials, region and service. */
export function signerFor(credentials: AwsCredentials, region: string, service: string): SigV4Signer {
  const id = `${credentials.accessKeyId}\n${credentials.secretAccessKey}\n${credentials.sessionToken ?? ''}\n${region}\n${service}`;
  let signer = signers.get(id);
  if (!signer) {
    signer = new SigV4Signer(credentials, region, service);
    signers.set(id, signer);
  }
  return signer;
}
