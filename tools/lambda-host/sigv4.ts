/**
 * AWS Signature Version 4 verification of an incoming request (header-based `Authorization`),
 * as a Function URL with AWS_IAM auth performs it: recompute the canonical request from the
 * headers the client listed, the real body hash, the credential scope and the date, then
 * compare signatures in constant time. Pure logic over node:crypto; no I/O.
 *
 * Canonicalisation follows the SigV4 rules for non-S3 services, checked against aws4fetch and
 * @smithy/signature-v4: the path is normalised (empty, `.` and `..` segments) and URI-encoded
 * once more on top of its wire encoding ("double encoding"); the query is decoded (`+` is a
 * space, as URLSearchParams reads it) and re-encoded RFC 3986-style, sorted by key then value.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { LocalCredentials } from './types';

/** The only algorithm SigV4 defines for HMAC signing. */
export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** How far the request date may be from the server clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

/** The request as seen on the wire. Header names lower-case, repeated headers joined with `,`. */
export interface SigV4Request {
  method: string;
  /** Raw path as sent (still percent-encoded), without the query. */
  path: string;
  /** Raw query string without the leading `?` (may be empty). */
  query: string;
  headers: Readonly<Record<string, string | undefined>>;
  /** Hex SHA-256 of the exact body bytes. */
  bodySha256: string;
}

/** What the verifier checks against. */
export interface SigV4Expectation {
  region: string;
  service: string;
  credentials: readonly LocalCredentials[];
  /** Server clock, epoch ms. */
  now: number;
}

/** AWS error types a SigV4 failure maps to (`x-amzn-ErrorType`). */
export type SigV4ErrorType = 'AccessDeniedException' | 'IncompleteSignatureException' | 'InvalidSignatureException' | 'UnrecognizedClientException';

/** Outcome of {@link verifySigV4}. */
export type SigV4Result = { ok: true; credentials: LocalCredentials } | { ok: false; type: SigV4ErrorType; message: string };

/** The parsed `Authorization` header. */
export interface ParsedAuthorization {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const INVALID_TOKEN = 'The security token included in the request is invalid.';
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** RFC 3986 percent-encoding (unreserved characters kept), as SigV4 prescribes. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Decodes a query component the way URLSearchParams does (`+` is a space); keeps malformed escapes. */
export function decodeQueryComponent(value: string): string {
  const spaced = value.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}

/** Canonical URI of a non-S3 request: normalised segments, each encoded on top of its wire form. */
export function canonicalUri(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return `/${segments.map(uriEncode).join('/')}${trailing}`;
}

/** Canonical query string: decoded then re-encoded pairs, sorted by key then value, empty keys dropped. */
export function canonicalQuery(rawQuery: string): string {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    const encodedKey = uriEncode(decodeQueryComponent(key));
    if (encodedKey === '') continue;
    pairs.push([encodedKey, uriEncode(decodeQueryComponent(value))]);
  }
  pairs.sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`; null when malformed. */
export function parseAuthorization(header: string): ParsedAuthorization | null {
  const trimmed = header.trim();
  if (!trimmed.startsWith(`${SIGV4_ALGORITHM} `)) return null;
  const fields = new Map<string, string>();
  for (const item of trimmed.slice(SIGV4_ALGORITHM.length).split(',')) {
    const eq = item.indexOf('=');
    if (eq === -1) return null;
    fields.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature || !/^[0-9a-f]{64}$/.test(signature)) return null;
  const parts = credential.split('/');
  if (parts.length < 5) return null;
  const [date, region, service, terminator] = parts.slice(-4) as [string, string, string, string];
  const accessKeyId = parts.slice(0, -4).join('/');
  if (!accessKeyId) return null;
  return { accessKeyId, date, region, service, terminator, signedHeaders: signedHeaders.split(';'), signature };
}

/** The canonical request string a signer hashed. */
export function canonicalRequest(request: SigV4Request, signedHeaders: readonly string[]): string {
  const headerLines = signedHeaders.map((name) => `${name}:${(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`);
  return [
    request.method.toUpperCase(),
    canonicalUri(request.path),
    canonicalQuery(request.query),
    headerLines.join(''),
    signedHeaders.join(';'),
    request.bodySha256,
  ].join('\n');
}

/** HMAC-SHA256 signature (hex) of `stringToSign` with the key derived from the secret and scope. */
export function sign(secret: string, date: string, region: string, service: string, stringToSign: string): string {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  const kSigning = createHmac('sha256', kService).update('aws4_request').digest();
  return createHmac('sha256', kSigning).update(stringToSign).digest('hex');
}

/** Hex SHA-256 of a body. */
export function sha256Hex(body: Uint8Array | string): string {
  return createHash('sha256').update(body).digest('hex');
}

function toAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[:-]|\.\d{3}/g, '');
}

/** Request time from `x-amz-date` (or `date`), epoch ms; NaN when unparseable. */
function requestTime(headers: SigV4Request['headers']): { ms: number; amzDate: string; header: string } | null {
  const amz = headers['x-amz-date'];
  if (amz !== undefined) {
    const m = AMZ_DATE.exec(amz.trim());
    const ms = m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) : Number.NaN;
    return { ms, amzDate: amz.trim(), header: 'x-amz-date' };
  }
  const date = headers['date'];
  if (date === undefined) return null;
  const ms = Date.parse(date);
  return { ms, amzDate: Number.isNaN(ms) ? '' : toAmzDate(ms), header: 'date' };
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function fail(type: SigV4ErrorType, message: string): SigV4Result {
  return { ok: false, type, message };
}

/**
 * Verifies a header-signed SigV4 request. Checks, in order: the Authorization header shape,
 * the access key, the scope (region, service, terminator), the date window and scope date,
 * the session token, `x-amz-content-sha256` against the real body hash, then the signature.
 */
export function verifySigV4(request: SigV4Request, expected: SigV4Expectation): SigV4Result {
  const header = request.headers['authorization'];
  if (header === undefined || header.trim() === '') {
    return fail('AccessDeniedException', 'Missing Authentication Token');
  }
  const auth = parseAuthorization(header);
  if (!auth) {
    return fail(
      'IncompleteSignatureException',
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization=${SIGV4_ALGORITHM}`,
    );
  }
  if (!auth.signedHeaders.includes('host')) {
    return fail('InvalidSignatureException', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  if (auth.signedHeaders.some((name, i, all) => name !== name.toLowerCase() || (i > 0 && all[i - 1]! >= name))) {
    return fail('InvalidSignatureException', SIGNATURE_MISMATCH);
  }
  const credentials = expected.credentials.find((c) => c.accessKeyId === auth.accessKeyId);
  if (!credentials) return fail('UnrecognizedClientException', INVALID_TOKEN);
  if (auth.terminator !== 'aws4_request') {
    return fail('InvalidSignatureException', "Credential should be scoped with a valid terminator: 'aws4_request'.");
  }
  if (auth.region !== expected.region) {
    return fail('InvalidSignatureException', `Credential should be scoped to a valid region, not '${auth.region}'.`);
  }
  if (auth.service !== expected.service) {
    return fail('InvalidSignatureException', `Credential should be scoped to correct service: '${expected.service}'.`);
  }

  const time = requestTime(request.headers);
  if (!time || Number.isNaN(time.ms)) {
    return fail('IncompleteSignatureException', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (!auth.signedHeaders.includes(time.header)) return fail('InvalidSignatureException', SIGNATURE_MISMATCH);
  if (time.ms < expected.now - MAX_CLOCK_SKEW_MS) {
    return fail(
      'InvalidSignatureException',
      `Signature expired: ${time.amzDate} is now earlier than ${toAmzDate(expected.now - MAX_CLOCK_SKEW_MS)} (${toAmzDate(expected.now)} - 5 min.)`,
    );
  }
  if (time.ms > expected.now + MAX_CLOCK_SKEW_MS) {
    return fail(
      'InvalidSignatureException',
      `Signature not yet current: ${time.amzDate} is still later than ${toAmzDate(expected.now + MAX_CLOCK_SKEW_MS)} (${toAmzDate(expected.now)} + 5 min.)`,
    );
  }
  if (auth.date !== time.amzDate.slice(0, 8)) {
    return fail(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${time.amzDate.slice(0, 8)}', from '${time.amzDate}'.`,
    );
  }

  const token = request.headers['x-amz-security-token'];
  if (credentials.sessionToken !== undefined || token !== undefined) {
    if (token === undefined || credentials.sessionToken === undefined || !constantTimeEqual(token, credentials.sessionToken)) {
      return fail('UnrecognizedClientException', INVALID_TOKEN);
    }
    if (!auth.signedHeaders.includes('x-amz-security-token')) return fail('InvalidSignatureException', SIGNATURE_MISMATCH);
  }

  // Lambda does not accept unsigned payloads: a declared hash must be the real one.
  const declaredHash = request.headers['x-amz-content-sha256'];
  if (declaredHash !== undefined && declaredHash.trim().toLowerCase() !== request.bodySha256) {
    return fail('InvalidSignatureException', SIGNATURE_MISMATCH);
  }
  if (auth.signedHeaders.some((name) => request.headers[name] === undefined)) {
    return fail('InvalidSignatureException', SIGNATURE_MISMATCH);
  }

  const scope = `${auth.date}/${auth.region}/${auth.service}/${auth.terminator}`;
  const hashedCanonical = sha256Hex(canonicalRequest(request, auth.signedHeaders));
  const stringToSign = `${SIGV4_ALGORITHM}\n${time.amzDate}\n${scope}\n${hashedCanonical}`;
  const expectedSignature = sign(credentials.secretAccessKey, auth.date, auth.region, auth.service, stringToSign);
  if (!constantTimeEqual(expectedSignature, auth.signature)) return fail('InvalidSignatureException', SIGNATURE_MISMATCH);
  return { ok: true, credentials };
}
