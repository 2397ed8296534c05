/**
 * SSRF guard for callback URLs: `https` only, and never a loopback, private, link-local, CGNAT,
 * unspecified or cloud-metadata address or name. Literal IPs (v4, v6, v4-mapped v6, and the
 * decimal/hex/octal spellings URL parsing normalises) are checked here; names are checked against
 * the well-known internal ones. Names that resolve to internal addresses are not reachable from
 * Cloudflare's network, where Worker subrequests go to the public internet only. Redirects are not
 * followed by the deliverer (a redirect cannot bounce a delivery inward). The local stack allows
 * loopback http with an explicit setting (`CALLBACK_ALLOW_LOOPBACK=true`).
 */

/** Why a callback URL was refused, or undefined when it is allowed. */
export function callbackUrlProblem(raw: string, allowLoopback: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (url.username || url.password) return 'must not carry credentials';
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const loopback = isLoopback(host);
  if (loopback && allowLoopback) return url.protocol === 'https:' || url.protocol === 'http:' ? undefined : 'must be https';
  if (url.protocol !== 'https:') return 'must be https';
  if (loopback) return 'must not point at a loopback address';
  if (isInternalName(host)) return 'must not point at an internal host name';
  if (isInternalIp(host)) return 'must not point at a private, link-local or metadata address';
  return undefined;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true;
  const v4 = ipv4(host) ?? mappedIpv4(host);
  return v4 !== undefined && v4[0] === 127;
}

function isInternalName(host: string): boolean {
  const singleLabel = !host.includes('.') && !host.includes(':');
  return host === 'metadata.google.internal' || host.endsWith('.internal') || host.endsWith('.local') || singleLabel;
}

function ipv4(host: string): number[] | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : undefined;
}

/** `::ffff:a.b.c.d` or `::ffff:XXXX:XXXX` (how URL normalises it). */
function mappedIpv4(host: string): number[] | undefined {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(host);
  if (dotted?.[1]) return ipv4(dotted[1]);
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!hex?.[1] || !hex[2]) return undefined;
  const hi = Number.parseInt(hex[1], 16);
  const lo = Number.parseInt(hex[2], 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255];
}

function isInternalIpv4([a = 0, b = 0]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // CGNAT
    (a === 169 && b === 254) || // link-local, incl. 169.254.169.254 metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224 // multicast, reserved, broadcast
  );
}

function isInternalIp(host: string): boolean {
  const v4 = ipv4(host) ?? mappedIpv4(host);
  if (v4) return isInternalIpv4(v4);
  if (!host.includes(':')) return false;
  // IPv6: unspecified, loopback, unique-local fc00::/7, link-local fe80::/10, the AWS metadata fd00:ec2::254.
  return (
    host === '::' ||
    host === '::1' ||
    /^f[cd][0-9a-f]{0,2}:/.test(host) ||
    /^fe[89ab][0-9a-f]?:/.test(host) ||
    host.startsWith('::ffff:') ||
    host.startsWith('64:ff9b:')
  );
}
