/**
 * SSRF guard for callback URLs: `https` only, and never a loopback, private, link-local, CGNAT,
 * unspecified, multicast or cloud-metadata address or name. The host is normalised before any check
 * (case, trailing dots, brackets), literal IPv4 is read in every spelling `inet_aton` accepts
 * (`2130706433`, `0x7f.1`, `017700000001`, `127.1`), and an IPv6 literal that carries an IPv4
 * address (mapped `::ffff:a.b.c.d`, compatible `::a.b.c.d`, SIIT, NAT64 `64:ff9b::/96`, 6to4
 * `2002::/16`) is judged by the IPv4 address inside it. Names are checked against the well-known
 * internal ones and the public names known to resolve to loopback; other names that resolve to
 * internal addresses are not reachable from Cloudflare's network, where Worker subrequests go to the
 * public internet only. Redirects are not followed by the deliverer (a redirect cannot bounce a
 * delivery inward). The local stack allows loopback http with an explicit setting
 * (`CALLBACK_ALLOW_LOOPBACK=true`).
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
  const host = classifyHost(url.hostname);
  if (host.kind === 'invalid') return 'has a malformed host';
  const loopback = host.kind === 'loopback';
  if (loopback && allowLoopback) return url.protocol === 'https:' || url.protocol === 'http:' ? undefined : 'must be https';
  if (url.protocol !== 'https:') return 'must be https';
  if (loopback) return 'must not point at a loopback address';
  if (host.kind === 'internal-name') return 'must not point at an internal host name';
  if (host.kind === 'internal-ip') return 'must not point at a private, link-local or metadata address';
  return undefined;
}

type HostClass = { readonly kind: 'public' | 'loopback' | 'internal-name' | 'internal-ip' | 'invalid' };

const PUBLIC: HostClass = { kind: 'public' };
const LOOPBACK: HostClass = { kind: 'loopback' };
const INTERNAL_NAME: HostClass = { kind: 'internal-name' };
const INTERNAL_IP: HostClass = { kind: 'internal-ip' };
const INVALID: HostClass = { kind: 'invalid' };

/** Suffixes reserved for private networks (RFC 6761, 6762, 8375, ICANN's `.internal`) or used as such. */
const INTERNAL_SUFFIXES = ['local', 'internal', 'localdomain', 'home.arpa', 'lan', 'intranet'];
/** Public names whose every subdomain resolves to loopback, or to the IP written in the name. */
const INWARD_DNS = ['localtest.me', 'lvh.me', 'nip.io', 'sslip.io', 'xip.io'];

function underAny(name: string, suffixes: readonly string[]): boolean {
  return suffixes.some((s) => name === s || name.endsWith(`.${s}`));
}

/** The host as the guard compares it: lower case, no brackets, no trailing dots (`localhost.` is `localhost`). */
function normaliseHost(hostname: string): string {
  return hostname
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.+$/, '');
}

function classifyHost(hostname: string): HostClass {
  const host = normaliseHost(hostname);
  if (host === '') return INVALID;
  if (host.includes(':')) {
    const groups = parseIpv6(host);
    return groups ? classifyIpv6(groups) : INVALID;
  }
  const v4 = parseIpv4(host);
  if (v4 !== undefined) return classifyIpv4(v4);
  if (host === 'localhost' || host.endsWith('.localhost') || underAny(host, INWARD_DNS.slice(0, 2))) return LOOPBACK;
  if (!host.includes('.') || underAny(host, INTERNAL_SUFFIXES) || underAny(host, INWARD_DNS)) return INTERNAL_NAME;
  return PUBLIC;
}

/**
 * An IPv4 address as a 32-bit number in any form `inet_aton` (and the WHATWG URL parser) accepts:
 * one to four parts, each decimal, `0x` hex or `0` octal, the last part filling the remaining bytes.
 * Undefined when `host` is not such a literal (then it is a name).
 */
function parseIpv4(host: string): number | undefined {
  const parts = host.split('.');
  if (parts.length > 4) return undefined;
  const values: number[] = [];
  for (const part of parts) {
    let value: number;
    if (/^0x[0-9a-f]*$/.test(part)) value = part.length === 2 ? 0 : Number.parseInt(part.slice(2), 16);
    else if (/^0[0-7]+$/.test(part)) value = Number.parseInt(part.slice(1), 8);
    else if (/^(0|[1-9][0-9]*)$/.test(part)) value = Number(part);
    else return undefined;
    if (!Number.isSafeInteger(value)) return undefined;
    values.push(value);
  }
  const last = values.pop() ?? 0;
  if (values.some((v) => v > 255) || last >= 2 ** (8 * (4 - values.length))) return undefined;
  return values.reduce((acc, v, i) => acc + v * 2 ** (8 * (3 - i)), 0) + last;
}

function classifyIpv4(address: number): HostClass {
  const a = Math.floor(address / 2 ** 24);
  const b = Math.floor(address / 2 ** 16) % 256;
  if (a === 127) return LOOPBACK;
  const internal =
    a === 0 ||
    a === 10 ||
    (a === 100 && b >= 64 && b <= 127) || // CGNAT
    (a === 169 && b === 254) || // link-local, incl. 169.254.169.254 metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224; // multicast, reserved, broadcast
  return internal ? INTERNAL_IP : PUBLIC;
}

/** Eight 16-bit groups, or undefined when `host` is not an IPv6 literal (an embedded dotted quad is allowed at the end). */
function parseIpv6(host: string): number[] | undefined {
  let text = host;
  const tail: number[] = [];
  const dotted = /^(.*:)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(text);
  if (dotted?.[1] && dotted[2]) {
    const octets = dotted[2].split('.').map(Number);
    if (octets.some((o) => o > 255)) return undefined;
    const [o1 = 0, o2 = 0, o3 = 0, o4 = 0] = octets;
    tail.push(o1 * 256 + o2, o3 * 256 + o4);
    text = dotted[1].endsWith('::') ? dotted[1] : dotted[1].slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const group = (g: string) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN);
  const head = halves[0] ? halves[0].split(':').map(group) : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':').map(group) : [];
  const known = head.length + rest.length + tail.length;
  if ([...head, ...rest].some(Number.isNaN)) return undefined;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  return [...head, ...new Array<number>(8 - known).fill(0), ...rest, ...tail];
}

function classifyIpv6(g: number[]): HostClass {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const embedded = (hi: number, lo: number) => classifyIpv4(hi * 2 ** 16 + lo);
  const zeroTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  if (zeroTo(7) && g7 === 1) return LOOPBACK;
  if (zeroTo(8)) return INTERNAL_IP; // unspecified
  // IPv4-compatible ::a.b.c.d, mapped ::ffff:a.b.c.d and SIIT ::ffff:0:a.b.c.d: the IPv4 address decides.
  if (zeroTo(5) && (g5 === 0 || g5 === 0xffff)) return embedded(g6, g7);
  if (zeroTo(4) && g4 === 0xffff && g5 === 0) return embedded(g6, g7);
  // Translated or tunnelled: never loopback here, but internal when the IPv4 address inside is.
  const via = (inner: HostClass) => (inner === PUBLIC ? PUBLIC : INTERNAL_IP);
  // NAT64 well-known prefix 64:ff9b::/96 reaches the IPv4 address inside; 64:ff9b:1::/48 is for local use.
  if (g0 === 0x64 && g1 === 0xff9b) return g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0 ? via(embedded(g6, g7)) : INTERNAL_IP;
  // 6to4 2002:AABB:CCDD::/48 tunnels to the IPv4 address AA.BB.CC.DD.
  if (g0 === 0x2002) return via(embedded(g1, g2));
  const internal =
    (g0 === 0x2001 && g1 === 0) /* Teredo: the client's IPv4 is hidden in the address */ ||
    (g0 === 0x0100 && g1 === 0 && g2 === 0 && g3 === 0) /* discard-only 100::/64 */ ||
    (g0 & 0xfe00) === 0xfc00 /* unique local fc00::/7, incl. the AWS metadata fd00:ec2::254 */ ||
    (g0 & 0xffc0) === 0xfe80 /* link-local fe80::/10 */ ||
    (g0 & 0xffc0) === 0xfec0 /* site-local fec0::/10 (deprecated) */ ||
    (g0 & 0xff00) === 0xff00; /* multicast */
  return internal ? INTERNAL_IP : PUBLIC;
}
