/**
 * Upstash REST authentication: `Authorization: Bearer <token>` or the `_token` query parameter,
 * compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The body Upstash answers a missing or wrong token with (HTTP 401). */
export const UNAUTHORIZED_MESSAGE = 'WRONGPASS invalid or missing auth token';

/** The token a request presents: the Bearer header first, else `?_token=`; undefined when none. */
export function presentedToken(headers: IncomingHttpHeaders, query: URLSearchParams): string | undefined {
  const header = headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  return query.get('_token') ?? undefined;
}

/** Returns a checker that compares presented tokens with `expected` in constant time. */
export function tokenChecker(expected: string): (presented: string | undefined) => boolean {
  if (expected.length === 0) throw new Error('the Upstash bridge token must not be empty');
  // Comparing fixed-size digests keeps the time independent of where and whether lengths differ.
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  const wanted = digest(expected);
  return (presented) => presented !== undefined && timingSafeEqual(digest(presented), wanted);
}
