/**
 * Everything the bench measures, started on free ports and stopped again: the local stack as
 * `npm start` brings it up (a private Redis, the Upstash bridge, the reference model server, the
 * Lambda host with both adapters, the edge's deploy bundle in workerd with three locations, plus a
 * copy with the Cache API off for the L2 subject), the peer gateway, the load generator, and the
 * tenants (one with limits far above the bench's load, one blocked after its first request).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from '@upstash/redis';
import { AwsClient } from 'aws4fetch';
import type { BackendInferRequestInput } from '../../shared/contracts/backend';
import { INVOKE_PATH, REQUEST_ID_HEADER } from '../../shared/contracts/boundary';
import { createApiKey, createTenant } from '../tenancy/keys';
import { updateTenant } from '../tenancy/tenants';
import type { WorkerBundle } from '../stack/edge-bundle';
import { startStack, type Stack } from '../stack/stack';
import { startLoadGenerator, type LoadGenerator } from './load';
import { startPeer, type PeerGateway } from './peer';

/** The model every subject asks for: the ECS adapter in front of the model server's OpenAI API. */
export const BENCH_MODEL = 'llama-3.1-8b-vllm';
/** The same model server behind the SageMaker adapter (AWS SDK, event-stream framing). */
export const BENCH_SAGEMAKER_MODEL = 'llama-3.1-8b-instruct';

/** Model server latency during the load phases and the streaming phase (recorded in the results). */
export interface ModelLatency {
  readonly ttftMs: number;
  readonly perTokenMs: number;
}

/** The edge the bench measures: the stack's own locations and the copy without L1. */
export interface BenchEdge {
  /** The stack's `gatewayUrl`: its first location, with the Cache API (L1) on. */
  readonly url: string;
  /** The same bundle with the Cache API disabled (every cache lookup goes to L2). */
  readonly noL1Url: string;
  /** The same bundle with the usage ledger off (`USAGE_LEDGER=off`): what recording costs is the difference. */
  readonly noUsageUrl: string;
  /** Every location of the stack, the first one first. */
  readonly locations: readonly string[];
}

/** Edge locations the bench's stack runs (the EDGE_LOCATIONS scenario). */
export const BENCH_EDGE_LOCATIONS = 3;

export interface BenchEnvironment {
  readonly stack: Stack;
  readonly edge: BenchEdge;
  readonly bundle: WorkerBundle;
  /** Undefined when the peer could not start; {@link peerError} says why. */
  readonly peer: PeerGateway | undefined;
  readonly peerError: string | undefined;
  readonly load: LoadGenerator;
  /** A key of a tenant whose limits are far above anything the bench sends. */
  readonly apiKey: string;
  /** A key of a tenant allowed one request per minute, hour and day. */
  readonly blockedKey: string;
  /**
   * SigV4 headers of one fixed request to the ECS adapter's Function URL (for the adapter-direct
   * subject), as last signed: re-signed every minute, since the adapter refuses a signature older
   * than 5 minutes and a run takes longer.
   */
  adapterRequest(): SignedRequest;
  /** The same, streaming (32 tokens), for the adapter-direct streaming subject. */
  adapterStreamRequest(): SignedRequest;
  setModelLatency(latency: ModelLatency): Promise<void>;
  stop(): Promise<void>;
}

/** One signed request to replay unchanged. */
export interface SignedRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Limits far above anything the bench sends. */
export const UNLIMITED = 1_000_000_000;

/** Starts every component; `progress` gets one line per component. */
export async function startBenchEnvironment(progress: (line: string) => void, latency: ModelLatency): Promise<BenchEnvironment> {
  const stateDir = await mkdtemp(join(tmpdir(), 'gw-bench-'));
  const stops: Array<() => Promise<void>> = [async () => rm(stateDir, { recursive: true, force: true })];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };
  try {
    const stack = await startStack({
      ports: { gateway: 0, bridge: 0, modelServer: 0, lambdaHost: 0 },
      stateDir,
      // A Redis of its own: nothing else's commands in the counts (MONITOR) or on its CPU.
      redis: { spawnOnly: true },
      scenario: { edgeLocations: BENCH_EDGE_LOCATIONS },
      edgeNoL1Copy: true,
      edgeNoUsageCopy: true,
      // Traces on, as npm start runs them: every request's spans go to the local sink (edge batched
      // per isolate, adapters flushed per invocation), so the figures include what tracing costs here.
      modelServer: latency,
      progress: (line) => progress(`  ${line}`),
    });
    stops.push(() => stack.stop());
    if (!stack.gatewayUrl || !stack.edgeNoL1Url || !stack.edgeNoUsageUrl || !stack.edgeBundle) throw new Error('the stack started without its edge');
    const edge: BenchEdge = { url: stack.gatewayUrl, noL1Url: stack.edgeNoL1Url, noUsageUrl: stack.edgeNoUsageUrl, locations: stack.components.edges };
    const bundle = stack.edgeBundle;
    progress(`  edge copy      ${edge.noL1Url} (L1 off, for the L2 subject)`);
    progress(`  edge copy      ${edge.noUsageUrl} (usage ledger off, for what recording costs)`);

    let peer: PeerGateway | undefined;
    let peerError: string | undefined;
    try {
      peer = await startPeer();
      stops.push(() => peer!.stop());
      progress(`  peer-gateway   ${peer.url} (@portkey-ai/gateway ${peer.version} on Node ${process.version}, pass-through to the model server)`);
    } catch (err) {
      peerError = err instanceof Error ? err.message : String(err);
      progress(`  peer-gateway   not available: ${peerError}`);
    }

    const load = await startLoadGenerator();
    stops.push(() => load.stop());

    const { apiKey, blockedKey, tenantId, blockedTenantId } = await createBenchTenants(stack.bridge.url, stack.bridgeToken);
    progress(`  tenants        ${tenantId} (limits ${UNLIMITED}/min), ${blockedTenantId} (1 request/min)`);

    const adapterRequest = await keptSigned(stack, false);
    stops.push(async () => adapterRequest.stop());
    const adapterStreamRequest = await keptSigned(stack, true);
    stops.push(async () => adapterStreamRequest.stop());
    return {
      stack,
      edge,
      bundle,
      peer,
      peerError,
      load,
      apiKey,
      blockedKey,
      adapterRequest: adapterRequest.current,
      adapterStreamRequest: adapterStreamRequest.current,
      setModelLatency: async (l) => stack.modelServer.setConfig(l),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Keys of the bench's tenants in one stack's store. */
export interface BenchTenants {
  readonly apiKey: string;
  readonly blockedKey: string;
  readonly tenantId: string;
  readonly blockedTenantId: string;
}

/** A tenant whose limits are far above the bench's load and one allowed one request per minute, hour and day. */
export async function createBenchTenants(bridgeUrl: string, bridgeToken: string): Promise<BenchTenants> {
  const store = new Redis({ url: bridgeUrl, token: bridgeToken, enableTelemetry: false });
  const suffix = randomBytes(5).toString('hex');
  const tenant = await createTenant(store, { tenantId: `ten_bench_${suffix}`, name: 'Bench (unlimited)', plan: 'enterprise' });
  await updateTenant(store, tenant.tenantId, {
    overrides: { requestsPerMinute: UNLIMITED, requestsPerHour: UNLIMITED, requestsPerDay: UNLIMITED, tokensPerMinute: UNLIMITED, tokensPerDay: UNLIMITED },
  });
  const blocked = await createTenant(store, { tenantId: `ten_bench_blocked_${suffix}`, name: 'Bench (blocked)', plan: 'free' });
  await updateTenant(store, blocked.tenantId, { overrides: { requestsPerMinute: 1, requestsPerHour: 1, requestsPerDay: 1 } });
  const apiKey = (await createApiKey(store, { tenant, mode: 'test', scopes: ['infer'] })).key;
  const blockedKey = (await createApiKey(store, { tenant: blocked, mode: 'test', scopes: ['infer'] })).key;
  return { apiKey, blockedKey, tenantId: tenant.tenantId, blockedTenantId: blocked.tenantId };
}

/** How often {@link keptSigned} signs its request again (well inside SigV4's 5 minutes). */
const RESIGN_EVERY_MS = 60_000;

/** The adapter request signed now and again every {@link RESIGN_EVERY_MS}; `current` is the latest signature. */
async function keptSigned(stack: Stack, stream: boolean): Promise<{ current: () => SignedRequest; stop: () => void }> {
  let latest = await signAdapterRequest(stack, stream);
  const timer = setInterval(() => {
    signAdapterRequest(stack, stream).then(
      (signed) => {
        latest = signed;
      },
      () => {},
    );
  }, RESIGN_EVERY_MS);
  timer.unref();
  return { current: () => latest, stop: () => clearInterval(timer) };
}

/** Signs one adapter call as the edge does (aws4fetch, service `lambda`), to replay it unchanged. */
async function signAdapterRequest(stack: Stack, stream: boolean): Promise<SignedRequest> {
  const payload: BackendInferRequestInput = {
    request_id: stream ? 'bench-adapter-stream' : 'bench-adapter-direct',
    tenant_id: 'ten_bench',
    model: BENCH_MODEL,
    params: { max_tokens: stream ? 32 : 16, temperature: 0 },
    stream,
    messages: [{ role: 'user', content: 'Benchmark prompt for the adapter.' }],
  };
  const body = JSON.stringify(payload);
  const url = new URL(INVOKE_PATH, stack.components.lambdaHost.ecs).toString();
  const signer = new AwsClient({
    accessKeyId: stack.edgeVars['AWS_ACCESS_KEY_ID']!,
    secretAccessKey: stack.edgeVars['AWS_SECRET_ACCESS_KEY']!,
    region: stack.edgeVars['AWS_REGION']!,
    service: 'lambda',
  });
  const signed = await signer.sign(url, { method: 'POST', headers: { 'content-type': 'application/json', [REQUEST_ID_HEADER]: payload.request_id }, body });
  return { url, headers: Object.fromEntries(signed.headers), body };
}
