/**
 * The answers a Function URL front end gives on its own (auth failures, oversized requests,
 * function errors and timeouts), with the status codes, bodies and `x-amzn-ErrorType` values
 * AWS returns. Every response carries `x-amzn-RequestId`.
 */
import type { ServerResponse } from 'node:http';
import type { SigV4ErrorType } from './sigv4';

/** Header naming the invocation on every response. */
export const REQUEST_ID_HEADER = 'x-amzn-RequestId';
/** Body of a 403 for an unsigned request (AWS-validated text, LocalStack snapshot 2025-11). */
export const FORBIDDEN_MESSAGE =
  'Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html';
/** Lambda's synchronous invoke payload limit, in bytes (request event and buffered response). */
export const MAX_PAYLOAD_BYTES = 6_291_556;

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** 403 for a request the AWS_IAM check rejected. Unsigned requests get the generic Function URL text. */
export function sendAuthError(res: ServerResponse, requestId: string, type: SigV4ErrorType, message: string): void {
  const body = type === 'AccessDeniedException' ? { Message: FORBIDDEN_MESSAGE } : { message };
  send(res, 403, JSON.stringify(body), { [REQUEST_ID_HEADER]: requestId, 'x-amzn-ErrorType': type });
}

/** 413 for a request whose event would exceed the invoke payload limit. */
export function sendPayloadTooLarge(res: ServerResponse, requestId: string, limitBytes: number): void {
  const body = JSON.stringify({ Message: `Request must be smaller than ${limitBytes} bytes for the InvokeFunction operation` });
  send(res, 413, body, { [REQUEST_ID_HEADER]: requestId, 'x-amzn-ErrorType': 'RequestEntityTooLargeException' });
}

/**
 * 502 `Internal Server Error`: what a Function URL answers for any function error (an
 * exception, a timeout, an unserialisable or malformed result). Never carries details.
 */
export function sendFunctionError(res: ServerResponse, requestId: string): void {
  send(res, 502, 'Internal Server Error', { [REQUEST_ID_HEADER]: requestId });
}

/** 400 for a request target the host cannot route (absolute-form or `*`). */
export function sendBadRequest(res: ServerResponse, requestId: string): void {
  send(res, 400, JSON.stringify({ Message: 'Bad Request' }), { [REQUEST_ID_HEADER]: requestId });
}
