/**
 * Builds the event a Lambda Function URL hands to the function: API Gateway payload format 2.0
 * (https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html#urls-payloads), checked
 * against real AWS_IAM captures in aws/aws-lambda-go (lambdaurl/testdata, made with awscurl):
 * `cookie` stays in `headers` beside `cookies`, `authorization` and `connection` are not
 * forwarded, signing headers (`x-amz-date`, `x-amz-security-token`, `x-amz-content-sha256`)
 * are. Pure: the server passes in what it read off the socket.
 */
import { decodeQueryComponent } from './sigv4';

/** `requestContext.authorizer.iam` of an IAM-authenticated request. */
export interface IamAuthorizer {
  accessKey: string;
  accountId: string;
  callerId: string;
  cognitoIdentity: null;
  principalOrgId: string | null;
  userArn: string;
  userId: string;
}

/** The Function URL event (payload format 2.0), as documented for Lambda Function URLs. */
export interface FunctionUrlEvent {
  version: '2.0';
  routeKey: '$default';
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    /** Present for AWS_IAM function URLs only. */
    authorizer?: { iam: IamAuthorizer };
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: '$default';
    stage: '$default';
    time: string;
    timeEpoch: number;
  };
  body?: string;
  isBase64Encoded: boolean;
}

/** What the server knows about one request. */
export interface EventInput {
  method: string;
  /** Request target as received (`/path?query`), still percent-encoded. */
  target: string;
  httpVersion: string;
  /** Lower-case names, repeated headers joined with `,` (see {@link collectHeaders}). */
  headers: Record<string, string>;
  body: Buffer;
  sourceIp: string;
  requestId: string;
  /** Epoch ms of the request. */
  now: number;
  /** The URL id (`<url-id>` of `https://<url-id>.lambda-url.<region>.on.aws`). */
  apiId: string;
  /** Function owner's account id, or `anonymous` for auth type NONE. */
  accountId: string;
  authorizer: IamAuthorizer | null;
}

/** Headers the Function URL front end does not forward to the function (see the captures above). */
const DROPPED_HEADERS = new Set(['authorization', 'connection', 'keep-alive']);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Folds Node's `rawHeaders` into lower-case names with repeated values joined by `,` (format 2.0). */
export function collectHeaders(rawHeaders: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    const value = rawHeaders[i + 1]!;
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return headers;
}

/** Splits a request target into the raw path and raw query string. */
export function splitTarget(target: string): { rawPath: string; rawQueryString: string } {
  const q = target.indexOf('?');
  return q === -1 ? { rawPath: target, rawQueryString: '' } : { rawPath: target.slice(0, q), rawQueryString: target.slice(q + 1) };
}

/** Decoded query parameters, repeated keys joined with `,`; undefined when there are none. */
export function parseQueryParameters(rawQueryString: string): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  let found = false;
  for (const part of rawQueryString.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeQueryComponent(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : decodeQueryComponent(part.slice(eq + 1));
    params[key] = key in params ? `${params[key]},${value}` : value;
    found = true;
  }
  return found ? params : undefined;
}

/** Cookies of the `cookie` header(s) as the `cookies` array; undefined when there are none. */
export function parseCookies(cookieHeader: string | undefined): string[] | undefined {
  if (!cookieHeader) return undefined;
  const cookies = cookieHeader
    .split(/[;,]/)
    .map((c) => c.trim())
    .filter((c) => c !== '');
  return cookies.length > 0 ? cookies : undefined;
}

/**
 * Whether a body travels as text. Conservative on purpose (it mirrors LocalStack's
 * AWS-validated Function URL emulation): only `text`/`json`/`xml` content types with a
 * 7-bit body stay text; everything else is base64 with `isBase64Encoded: true`, so handlers
 * that forget to decode base64 fail here rather than in AWS.
 */
export function isTextBody(contentType: string | undefined, body: Buffer): boolean {
  const type = (contentType ?? '').toLowerCase();
  if (!['text', 'json', 'xml'].some((t) => type.includes(t))) return false;
  return body.every((byte) => byte < 0x80);
}

/** `requestContext.time` format: `12/Mar/2020:19:03:58 +0000`. */
export function formatRequestTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** Builds the payload format 2.0 event of one request. */
export function buildFunctionUrlEvent(input: EventInput): FunctionUrlEvent {
  const { rawPath, rawQueryString } = splitTarget(input.target);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) {
    if (!DROPPED_HEADERS.has(name)) headers[name] = value;
  }
  const domainName = input.headers['host'] ?? '';
  headers['x-forwarded-for'] = input.sourceIp;
  headers['x-forwarded-proto'] = 'http';
  const port = /:(\d+)$/.exec(domainName)?.[1];
  if (port) headers['x-forwarded-port'] = port;
  headers['x-amzn-trace-id'] ??= `Root=1-${Math.floor(input.now / 1000).toString(16)}-${input.requestId.replace(/-/g, '').slice(0, 24)}`;

  const event: FunctionUrlEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: input.accountId,
      apiId: input.apiId,
      ...(input.authorizer ? { authorizer: { iam: input.authorizer } } : {}),
      domainName,
      domainPrefix: input.apiId,
      http: {
        method: input.method,
        path: rawPath,
        protocol: `HTTP/${input.httpVersion}`,
        sourceIp: input.sourceIp,
        userAgent: input.headers['user-agent'] ?? '',
      },
      requestId: input.requestId,
      routeKey: '$default',
      stage: '$default',
      time: formatRequestTime(input.now),
      timeEpoch: input.now,
    },
    isBase64Encoded: false,
  };
  const cookies = parseCookies(input.headers['cookie']);
  if (cookies) event.cookies = cookies;
  const query = parseQueryParameters(rawQueryString);
  if (query) event.queryStringParameters = query;
  if (input.body.length > 0) {
    const text = isTextBody(input.headers['content-type'], input.body);
    event.body = text ? input.body.toString('utf8') : input.body.toString('base64');
    event.isBase64Encoded = !text;
  }
  return event;
}
