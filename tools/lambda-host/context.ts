/**
 * The invocation context a handler receives (`awsRequestId`, `functionName`,
 * `getRemainingTimeInMillis()`...) and the log lines the runtime would write for failures.
 */
import type { Context } from 'aws-lambda';

/** What a context is built from. */
export interface ContextInput {
  functionName: string;
  region: string;
  accountId: string;
  requestId: string;
  /** Wall-clock deadline, epoch ms (the host's timers run on the real clock). */
  deadline: number;
}

/** Thrown into a streaming handler's response stream when the function times out. */
export class FunctionTimeoutError extends Error {
  override readonly name = 'Sandbox.Timedout';
  constructor(readonly timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
  }
}

/** Used to destroy a streaming handler's response stream when the HTTP client goes away. */
export class ClientDisconnectedError extends Error {
  override readonly name = 'ClientDisconnectedError';
  readonly code = 'ERR_STREAM_PREMATURE_CLOSE';
  constructor() {
    super('The client closed the connection before the response was complete');
  }
}

/** Builds a Lambda context. The legacy `done`/`fail`/`succeed` complete through `settle`. */
export function createContext(input: ContextInput, settle: (error: unknown, result?: unknown) => void): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: input.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${input.region}:${input.accountId}:function:${input.functionName}`,
    memoryLimitInMB: '128',
    awsRequestId: input.requestId,
    logGroupName: `/aws/lambda/${input.functionName}`,
    logStreamName: `local/[$LATEST]${input.requestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, input.deadline - Date.now()),
    done: (error?: Error, result?: unknown) => settle(error ?? null, result),
    fail: (error: Error | string) => settle(error),
    succeed: (result: unknown) => settle(null, result),
  };
}

/** The runtime's `Invoke Error` log line: type, message and stack, for the host log only. */
export function formatInvokeError(functionName: string, requestId: string, error: unknown): string {
  const err = error instanceof Error ? error : undefined;
  const payload = {
    errorType: err?.name ?? typeof error,
    errorMessage: err?.message ?? String(error),
    stack: err?.stack?.split('\n') ?? [],
  };
  return `[${functionName}] ${requestId} ERROR Invoke Error ${JSON.stringify(payload)}`;
}
