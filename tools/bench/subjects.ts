/**
 * The subjects the bench loads, side by side: the direct floor, the peer gateway, the adapter
 * alone (to split the gateway's time into edge and adapter), and this gateway's miss, warm cache hit
 * (whichever tier answers a repeated request first), L2 hit (the copy without L1) and blocked paths,
 * all on the stack `npm start` brings up. Each subject checks before it is measured that it really exercises its
 * path (a HIT header, a 429), and otherwise reports itself as not available with the reason, so
 * the results never show numbers for a feature that is not there.
 */
import type { LoadJob } from './load';
import { BENCH_MODEL, BENCH_SAGEMAKER_MODEL, type BenchEnvironment } from './environment';

/** An HTTP request a subject sends; `[<id>]` in the body becomes a unique id per request. */
export interface Target {
  readonly url: string;
  readonly method: 'POST';
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Whether a subject can be measured, and what was seen when checking. */
export type Availability =
  | { readonly available: true; readonly note?: string /** The cache tier that answered (`X-Cache-Tier`), for hit subjects. */; readonly tier?: string }
  | { readonly available: false; readonly reason: string };

export type SubjectGroup = 'floor' | 'peer' | 'gateway' | 'decomposition';

export interface LoadSubject {
  readonly id: SubjectId;
  readonly label: string;
  readonly group: SubjectGroup;
  /** The status every response must have to count as this path. */
  readonly expectStatus: number;
  /** True when the subject is this gateway on workerd (its store round trips are counted). */
  readonly edge: boolean;
  readonly target: Target;
  /** Checks (and primes) the path; run once before the first round. */
  prepare(): Promise<Availability>;
}

/** All subject ids, in report order. */
export const SUBJECT_IDS = ['direct', 'peer', 'adapter', 'miss', 'miss-sagemaker', 'hit', 'hit-l2', 'blocked', 'miss-no-usage', 'hit-no-usage'] as const;
export type SubjectId = (typeof SUBJECT_IDS)[number];

const chatBody = (model: string, content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: 16, temperature: 0, ...extra });

/** Sends a target once (with `[<id>]` replaced) and returns the response, body read. */
export async function sendOnce(target: Target, id = `${Date.now()}-${Math.random()}`): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(target.url, {
    method: target.method,
    headers: target.headers,
    body: target.body.replaceAll('[<id>]', id),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const excerpt = (text: string) => text.replace(/\s+/g, ' ').slice(0, 200);

/** Every header whose name mentions cache or ratelimit, for the notes. */
function featureHeaders(headers: Headers): string {
  return [...headers]
    .filter(([name]) => /cache|ratelimit|retry-after/i.test(name))
    .map(([n, v]) => `${n}: ${v}`)
    .join('; ');
}

async function expectOk(target: Target, status = 200): Promise<Availability> {
  const res = await sendOnce(target);
  if (res.status !== status) return { available: false, reason: `answered ${res.status}, expected ${status}: ${excerpt(res.text)}` };
  const seen = featureHeaders(res.headers);
  return seen ? { available: true, note: seen } : { available: true };
}

/** A cache-hit subject: prime on `primeUrl`, then the target must answer with `X-Cache: HIT…`. */
async function expectHit(prime: Target, target: Target): Promise<Availability> {
  const first = await sendOnce(prime);
  if (first.status !== 200) return { available: false, reason: `priming answered ${first.status}: ${excerpt(first.text)}` };
  await new Promise((r) => setTimeout(r, 200)); // let a background cache write land
  const second = await sendOnce(target);
  const xCache = second.headers.get('x-cache');
  if (xCache === null) return { available: false, reason: 'not available (feature missing): no X-Cache header on a repeated cacheable request' };
  if (second.status !== 200 || !/HIT/i.test(xCache))
    return { available: false, reason: `the repeated request was not a hit: ${second.status}, ${featureHeaders(second.headers)}` };
  // The tier of a warm hit: what answers once the entry has been served here before.
  const warm = await sendOnce(target);
  const tier = warm.headers.get('x-cache-tier');
  return { available: true, note: featureHeaders(warm.headers), ...(tier ? { tier } : {}) };
}

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json', 'cache-control': 'max-age=300' });
const post = (url: string, headers: Record<string, string>, body: string): Target => ({ url, method: 'POST', headers, body });
const unique = (model: string) => chatBody(model, 'Benchmark prompt [<id>]');

function subject(
  id: SubjectId,
  label: string,
  group: SubjectGroup,
  target: Target,
  prepare: () => Promise<Availability>,
  options: { readonly expectStatus?: number; readonly edge?: boolean } = {},
): LoadSubject {
  return { id, label, group, target, expectStatus: options.expectStatus ?? 200, edge: options.edge ?? false, prepare };
}

/** The blocked tenant's 429, checked before it is measured (a 1-request/min tenant may pass once). */
async function expectBlocked(target: Target): Promise<Availability> {
  const statuses: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const res = await sendOnce(target);
    statuses.push(res.status);
    if (res.status === 429) return { available: true, note: featureHeaders(res.headers) };
  }
  return { available: false, reason: `not available (feature missing): a tenant allowed 1 request/min answered ${statuses.join(', ')} to 3 requests` };
}

/** The edge paths of one gateway URL: a miss, a warm hit and the blocked tenant's 429. */
export function gatewaySubjects(
  gatewayUrl: string,
  keys: { readonly apiKey: string; readonly blockedKey: string },
): Record<'miss' | 'hit' | 'blocked', LoadSubject> {
  const url = `${gatewayUrl}/v1/chat/completions`;
  const miss = post(url, auth(keys.apiKey), unique(BENCH_MODEL));
  const hit = post(url, auth(keys.apiKey), chatBody(BENCH_MODEL, `Benchmark cached prompt ${Date.now()}`));
  const blocked = post(url, auth(keys.blockedKey), chatBody(BENCH_MODEL, 'Benchmark blocked prompt'));
  return {
    miss: subject('miss', 'gateway miss: auth + limits + cache miss + ECS adapter', 'gateway', miss, () => expectOk(miss), { edge: true }),
    hit: subject('hit', 'gateway cache hit, warm (a repeated request; tier in X-Cache-Tier)', 'gateway', hit, () => expectHit(hit, hit), { edge: true }),
    blocked: subject('blocked', 'gateway blocked tenant (429)', 'gateway', blocked, () => expectBlocked(blocked), { expectStatus: 429, edge: true }),
  };
}

const adapterTarget = (env: BenchEnvironment): Target => {
  const signed = env.adapterRequest();
  return post(signed.url, signed.headers, signed.body);
};

/** Builds the subjects against a running environment. */
export function buildSubjects(env: BenchEnvironment): Record<SubjectId, LoadSubject> {
  const modelServer = env.stack.modelServer.url;
  const direct = post(`${modelServer}/v1/chat/completions`, { 'content-type': 'application/json' }, unique(BENCH_MODEL));
  const peer = env.peer
    ? post(`${env.peer.url}/v1/chat/completions`, { 'content-type': 'application/json', ...env.peer.headersFor(modelServer) }, unique(BENCH_MODEL))
    : direct;
  const missSagemaker = post(`${env.edge.url}/v1/chat/completions`, auth(env.apiKey), unique(BENCH_SAGEMAKER_MODEL));
  const gateway = gatewaySubjects(env.edge.url, env);
  const hitL2 = { ...gateway.hit.target, url: `${env.edge.noL1Url}/v1/chat/completions` };
  // The same requests to the copy with the usage ledger off: what recording costs is the difference.
  const missNoUsage = { ...gateway.miss.target, url: `${env.edge.noUsageUrl}/v1/chat/completions` };
  const hitNoUsage = { ...gateway.hit.target, url: `${env.edge.noUsageUrl}/v1/chat/completions` };
  return {
    direct: subject('direct', 'direct to the model server (floor)', 'floor', direct, () => expectOk(direct)),
    peer: subject('peer', 'peer gateway pass-through (Portkey OSS)', 'peer', peer, async () =>
      env.peer ? expectOk(peer) : { available: false, reason: `peer gateway not available: ${env.peerError ?? 'unknown'}` },
    ),
    adapter: {
      ...subject('adapter', 'Lambda host + ECS adapter alone (SigV4, no edge)', 'decomposition', adapterTarget(env), () => expectOk(adapterTarget(env))),
      // Each job reads the latest signature (re-signed every minute): one older than 5 minutes is refused.
      get target() {
        return adapterTarget(env);
      },
    },
    miss: gateway.miss,
    'miss-sagemaker': subject('miss-sagemaker', 'gateway miss via the SageMaker adapter (AWS SDK)', 'gateway', missSagemaker, () => expectOk(missSagemaker), {
      edge: true,
    }),
    hit: gateway.hit,
    'hit-l2': subject('hit-l2', 'gateway cache hit, L2 (Redis; the copy with L1 disabled)', 'gateway', hitL2, () => expectHit(gateway.hit.target, hitL2), {
      edge: true,
    }),
    blocked: gateway.blocked,
    'miss-no-usage': subject('miss-no-usage', 'gateway miss, usage ledger off (USAGE_LEDGER=off copy)', 'gateway', missNoUsage, () => expectOk(missNoUsage), {
      edge: true,
    }),
    'hit-no-usage': subject(
      'hit-no-usage',
      'gateway cache hit, warm, usage ledger off (USAGE_LEDGER=off copy)',
      'gateway',
      hitNoUsage,
      () => expectHit(gateway.hit.target, hitNoUsage),
      { edge: true },
    ),
  };
}

/** The autocannon job for a subject in one mode. */
export function jobFor(subject: LoadSubject, mode: { readonly connections: number; readonly rate?: number }, durationSec: number): LoadJob {
  return {
    url: subject.target.url,
    method: subject.target.method,
    headers: subject.target.headers,
    body: subject.target.body,
    connections: mode.connections,
    durationSec,
    ...(mode.rate ? { overallRate: mode.rate } : {}),
  };
}
