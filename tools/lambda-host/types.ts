/**
 * Public types of the local Lambda host: how a function is declared, the credentials the
 * AWS_IAM check accepts, and the host's options and handle.
 */

/**
 * Any Lambda handler: a buffered `(event, context, callback?)` function or a streaming
 * `awslambda.streamifyResponse((event, responseStream, context) => ...)` function. Typed with
 * `never` parameters so that every concrete handler type is assignable without `any`.
 */
export type LambdaHandler = (...args: never[]) => unknown;

/** Where a handler comes from: the function itself, or a module path and export name. */
export type HandlerSource = LambdaHandler | { module: string; export?: string };

/** One Lambda function behind its own Function URL (its own origin, hence its own port). */
export interface FunctionSpec {
  /** Function name (`context.functionName`, log prefix, key in {@link LambdaHost.urls}). */
  name: string;
  /** The handler, or `{ module, export }`; a relative module path resolves against the cwd. Export defaults to `handler`. */
  handler: HandlerSource;
  /** Function URL invoke mode. Default: detected from the handler (`streamifyResponse` marks it). */
  invokeMode?: 'BUFFERED' | 'RESPONSE_STREAM';
  /** Function URL auth type. Default `AWS_IAM` (SigV4, service `lambda`). */
  authType?: 'AWS_IAM' | 'NONE';
  /** Function timeout. Default 3000 ms, Lambda's own default. */
  timeoutMs?: number;
  /** Port to listen on. Default 0: a free port chosen by the kernel. */
  port?: number;
  /** Environment applied to `process.env` before the module is loaded (the function's cold start). */
  env?: Record<string, string>;
}

/**
 * Credentials the AWS_IAM check accepts. The optional identity fields fill
 * `requestContext.authorizer.iam`; defaults are derived from the access key.
 */
export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, requests must carry the same `x-amz-security-token` (temporary credentials). */
  sessionToken?: string;
  /** Caller's account id. Default `123456789012`. */
  accountId?: string;
  /** Caller's ARN. Default `arn:aws:iam::<accountId>:user/local-<accessKeyId>`. */
  userArn?: string;
  /** Caller's user id (also `callerId`). Default derived from the access key. */
  userId?: string;
}

/** Options of {@link startLambdaHost}. */
export interface LambdaHostOptions {
  functions: FunctionSpec[];
  /** Region the SigV4 credential scope must name. */
  region: string;
  /** Credentials accepted by functions with `authType: 'AWS_IAM'`. */
  credentials: LocalCredentials[];
  /** Interface to bind. Default `127.0.0.1`. */
  host?: string;
  /** Largest request body accepted (413 beyond). Default 6,291,556 bytes, Lambda's invoke payload limit. */
  maxBodyBytes?: number;
  /** Clock for SigV4 date checks and event timestamps, in epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Where the host writes its log lines (handler errors with stacks, timeouts). Default stderr. */
  log?: (line: string) => void;
  /** Account id of the function owner (`requestContext.accountId` under AWS_IAM, function ARN). Default `123456789012`. */
  accountId?: string;
}

/** A running host. */
export interface LambdaHost {
  /** Function name → its URL, with a trailing slash like a real Function URL (`http://127.0.0.1:PORT/`). */
  readonly urls: Record<string, string>;
  /** Stops every listener and drops open connections. */
  close(): Promise<void>;
}
