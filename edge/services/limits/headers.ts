/**
 * Rate-limit response headers: `RateLimit-Policy` and `RateLimit` in the IETF httpapi
 * ratelimit-headers draft syntax (structured fields: `"minute";q=60;w=60` and `"minute";r=59;t=30`),
 * the familiar `X-RateLimit-Limit/Remaining/Reset` (Reset in seconds from now, like `t`) for the
 * most restrictive request window, and `X-TokenLimit-Limit/Remaining` for the most restrictive
 * token window. A remaining count is what this isolate knows: the store's remaining at its last
 * contact plus the units its lease has not handed out yet: it may lag other locations' use since
 * that contact, never this isolate's own.
 */
import type { WindowState } from './windows';

const secondsUntil = (reset: number, now: number) => Math.max(0, Math.ceil((reset - now) / 1000));

/** The window with the least room left (ties: the one that resets first). */
export function mostRestrictive(states: readonly WindowState[]): WindowState | undefined {
  let best: WindowState | undefined;
  for (const s of states) {
    if (!best || s.remaining < best.remaining || (s.remaining === best.remaining && s.reset < best.reset)) best = s;
  }
  return best;
}

/** Seconds until every denying window has reset; at least 1. */
export function retryAfterSeconds(states: readonly WindowState[], now: number): number {
  const denied = states.filter((s) => !s.success);
  return Math.max(1, ...denied.map((s) => secondsUntil(s.reset, now)));
}

/** The headers every limited response carries. */
export function limitHeaders(states: readonly WindowState[], now: number): Record<string, string> {
  const requests = states.filter((s) => s.window.kind === 'requests');
  const tokens = states.filter((s) => s.window.kind === 'tokens');
  const headers: Record<string, string> = {};
  if (requests.length > 0) {
    headers['RateLimit-Policy'] = requests.map((s) => `"${s.window.name}";q=${s.window.limit};w=${s.window.seconds}`).join(', ');
    const tight = mostRestrictive(requests)!;
    headers.RateLimit = `"${tight.window.name}";r=${tight.remaining};t=${secondsUntil(tight.reset, now)}`;
    headers['X-RateLimit-Limit'] = String(tight.window.limit);
    headers['X-RateLimit-Remaining'] = String(tight.remaining);
    headers['X-RateLimit-Reset'] = String(secondsUntil(tight.reset, now));
  }
  const tightTokens = mostRestrictive(tokens);
  if (tightTokens) {
    headers['X-TokenLimit-Limit'] = String(tightTokens.window.limit);
    headers['X-TokenLimit-Remaining'] = String(tightTokens.remaining);
  }
  return headers;
}
