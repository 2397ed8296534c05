/**
 * The local stack, as a library: Redis (reused or spawned) → Upstash REST bridge → reference model
 * server → local metrics sink (CloudWatch stand-in, dashboard page) → local EventBridge stand-in
 * (the bus of `eventbridge` webhook actions) → local Lambda host running the SageMaker and ECS
 * adapters → the edge: the deploy bundle in workerd, one worker per edge location (edge-workerd.ts),
 * or `wrangler dev` with hot reload for editing (one location); a signed webhook source (`ingest`)
 * is wired to a demo job. Used by `npm start`, `npm run dev:edge`, the end-to-end tests and the
 * bench. Every component's failure to start is reported by name, and whatever had started is
 * stopped again.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from '@upstash/redis';
import { ensureRedis, type EnsureRedisOptions, type RedisHandle } from '../redis/ensure-redis';
import { startUpstashBridge, type UpstashBridge } from '../upstash-bridge/server';
import { startModelServer, type ModelServer, type ModelServerConfig } from '../model-server/server';
import { createApiKey, createTenant, generateOperatorToken } from '../tenancy/keys';
import { freePort, isListening } from '../lib/net';
import { ComponentStartError, resolvePort, spawnChild, waitUntilReady, type Child } from './child';
import { startEdge, type EdgeRuntime, type RunningEdge } from './edge';
import { localWebhookVars, writeEdgeEnv } from './edge-env';
import { REPO_ROOT } from './repo';
import { startMetricsSink, type MetricsSink } from '../metrics-sink/server';
import { tenantUsage } from '../metrics-sink/usage';
import { startEventBridgeStandIn, type EventBridgeStandIn } from '../eventbridge/server';
import { adapterNamespace } from '../../shared/metrics-catalog';
import type { WorkerBundle } from './edge-bundle';
import { eventBusName } from '../../shared/contracts/events';
import { generateWebhookSecret } from '../../shared/crypto/hmac';

export { REPO_ROOT } from './repo';

/** The model the local stack serves, and the SageMaker endpoint behind it. */
export const LOCAL_MODEL = 'llama-3.1-8b-instruct';
export const LOCAL_ENDPOINT = 'llama-3-1-8b-tgi';

/** A vLLM model whose `POST /v1/responses` the route table passes to vLLM's own Responses API (`responses: "native"`). */
export const LOCAL_NATIVE_RESPONSES_MODEL = 'qwen-2.5-7b-vllm';

/**
 * `e5-small-vllm` again, same container, with `maxBatchInputs` 1: every input is a backend call of its
 * own, the baseline the bench measures dynamic batching against (and a user can compare with).
 */
export const LOCAL_UNBATCHED_EMBEDDING_MODEL = 'e5-small-vllm-unbatched';

/**
 * Every model the local stack routes, one per container format, each on the adapter that serves it
 * in production: SageMaker endpoints (TGI, LMI with the OpenAI chat schema, a plain-JSON custom
 * handler) and an ECS vLLM service (OpenAI chat and completions). The reference model server stands
 * in for all of them (SageMaker endpoints by name, vLLM models by `model`).
 */
export const LOCAL_SAGEMAKER_MODELS = {
  [LOCAL_MODEL]: { endpointName: LOCAL_ENDPOINT, format: 'tgi' },
  'mistral-7b-instruct-lmi': { endpointName: 'mistral-7b-lmi', format: 'openai-chat', modelId: 'mistral-7b-instruct' },
  'zephyr-7b-tgi-messages': { endpointName: 'zephyr-7b-tgi', format: 'tgi-messages', modelId: 'tgi' },
  'custom-7b-json': { endpointName: 'custom-7b-json', format: 'json' },
  'bge-small-en-tei': { endpointName: 'bge-small-en-tei', format: 'tei-embed' },
} as const;
/** The vision model: OpenAI chat on vLLM, with image parts (the edge inlines them). */
export const LOCAL_VISION_MODEL = 'llava-1.6-7b-vllm';
export const LOCAL_ECS_MODELS = {
  'llama-3.1-8b-vllm': { format: 'openai-chat' },
  [LOCAL_VISION_MODEL]: { format: 'openai-chat' },
  'llama-3.1-8b-base-vllm': { format: 'openai-completions' },
  [LOCAL_NATIVE_RESPONSES_MODEL]: { format: 'openai-chat' },
  'e5-small-vllm': { format: 'openai-embeddings' },
  [LOCAL_UNBATCHED_EMBEDDING_MODEL]: { format: 'openai-embeddings', modelId: 'e5-small-vllm' },
} as const;
/**
 * The embeddings models among them, with what the route table says of each: a TEI container on a
 * SageMaker endpoint and a vLLM embedding model on the ECS service, batched by the edge, plus that
 * vLLM model's unbatched twin (the model server answers all with its default 384-dimension vectors).
 */
export const LOCAL_EMBEDDING_MODELS = {
  'bge-small-en-tei': { dimensions: 384, vocabSize: 30_522, maxInputTokens: 512 },
  'e5-small-vllm': { dimensions: 384, shortenable: true, vocabSize: 250_002, maxInputTokens: 512 },
  [LOCAL_UNBATCHED_EMBEDDING_MODEL]: { dimensions: 384, shortenable: true, vocabSize: 250_002, maxInputTokens: 512, maxBatchInputs: 1 },
} as const;
/** What the OpenAI chat models (vLLM on ECS, LMI on SageMaker) can do, as the reference model server emulates it. */
export const OPENAI_CHAT_CAPABILITIES = { tools: true, json_schema: true, logprobs: true, max_n: 4 } as const;
/** TGI's Messages API: tools, JSON through its grammar, logprobs; one choice. */
const TGI_MESSAGES_CAPABILITIES = { tools: true, json_schema: true, logprobs: true } as const;
/** vLLM's legacy completions: logprobs and several choices, no tools. */
const OPENAI_COMPLETIONS_CAPABILITIES = { logprobs: true, max_n: 4 } as const;
/** TGI `generate` constrains output to a JSON Schema through its `grammar`; it has no tools. */
const TGI_GENERATE_CAPABILITIES = { json_schema: true } as const;

/**
 * A model both adapters serve, each from its own container (SageMaker endpoint `resilience-7b-sm`,
 * vLLM model `resilience-7b-vllm`), so the model server's per-endpoint faults can break one backend
 * while the other serves: routed to SageMaker with the ECS service as its fallback.
 */
export const LOCAL_FALLBACK_MODEL = {
  name: 'resilience-7b',
  sagemaker: { endpointName: 'resilience-7b-sm', format: 'tgi' },
  ecs: { format: 'openai-chat', modelId: 'resilience-7b-vllm' },
} as const;
const REGION = 'us-east-1';
/** The dev tenant `npm start` seeds; the demo webhook source's jobs run as it. */
const DEV_TENANT_ID = 'ten_dev';
/** The local stack's `ENVIRONMENT` (edge metric dimension, adapter metrics namespace suffix). */
export const LOCAL_ENVIRONMENT = 'local';
/** The metrics sink's (dashboard's) default port. */
export const DEFAULT_METRICS_SINK_PORT = 8090;

/** The example price of the local models (USD per 1M input and output tokens, per request); cache hits are free. */
const LOCAL_PRICE = { inputPer1M: 0.5, outputPer1M: 1.5, perRequest: 0.0001 };

export interface StackPorts {
  /** The edge's first location; location i (from 0) listens on this port + i. Default 8787, env GATEWAY_PORT. */
  readonly gateway: number;
  /** Upstash REST bridge. Default 8079, env UPSTASH_BRIDGE_PORT. */
  readonly bridge: number;
  /** Reference model server. Default 8081, env MODEL_SERVER_PORT. */
  readonly modelServer: number;
  /** Local Lambda host, SageMaker adapter Function URL. Default 8082, env LAMBDA_HOST_PORT. */
  readonly lambdaHost: number;
  /**
   * Local metrics sink and dashboard page. Default 8090, env METRICS_SINK_PORT. Port 8090 falls
   * back to a free port when taken (the dashboard is a convenience); any other port is strict.
   * Unset: a free port.
   */
  readonly metricsSink?: number;
}

/** Ports from the environment, with defaults that do not collide. */
export function portsFromEnv(env: NodeJS.ProcessEnv = process.env): StackPorts {
  const port = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ComponentStartError('config', `${name} must be a port number, got '${raw}'`);
    return n;
  };
  return {
    gateway: port('GATEWAY_PORT', 8787),
    bridge: port('UPSTASH_BRIDGE_PORT', 8079),
    modelServer: port('MODEL_SERVER_PORT', 8081),
    lambdaHost: port('LAMBDA_HOST_PORT', 8082),
    metricsSink: port('METRICS_SINK_PORT', DEFAULT_METRICS_SINK_PORT),
  };
}

/** The scenarios a stack can run: how many edge locations, how far the store is. */
export interface StackScenario {
  /** Edge locations, each its own isolate on its own port. Default 1, env EDGE_LOCATIONS (1..16). */
  readonly edgeLocations: number;
  /** Added by the Upstash bridge to every store request, ms: a location far from the store's primary. Default 0, env STORE_LATENCY_MS. */
  readonly storeLatencyMs: number;
}

/** Most edge locations one stack runs: each is an isolate in the one workerd on this machine. */
const MAX_EDGE_LOCATIONS = 16;
/** Most store latency the bridge is asked to add (its own bound is higher; beyond a minute nothing answers). */
const MAX_STORE_LATENCY_MS = 60_000;

/** The scenario from the environment (EDGE_LOCATIONS, STORE_LATENCY_MS); a bad value names the variable. */
export function scenarioFromEnv(env: NodeJS.ProcessEnv = process.env): StackScenario {
  const int = (name: string, fallback: number, min: number, max: number) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new ComponentStartError('config', `${name} must be an integer in ${min}..${max}, got '${raw}'`);
    return n;
  };
  return { edgeLocations: int('EDGE_LOCATIONS', 1, 1, MAX_EDGE_LOCATIONS), storeLatencyMs: int('STORE_LATENCY_MS', 0, 0, MAX_STORE_LATENCY_MS) };
}

export interface StackOptions {
  /** 0 for any port means "a free one". */
  readonly ports: StackPorts;
  /** Where stack.json, the edge's bundle, env file and persisted queues/cache go. */
  readonly stateDir: string;
  readonly modelServer?: Partial<ModelServerConfig>;
  /** One line per component as it comes up. */
  readonly progress?: (line: string) => void;
  /** Output of components (prefixed by name). */
  readonly log?: (component: string, line: string) => void;
  /** Start the edge (default true); tests that run the worker in their own workerd say false. */
  readonly edge?: boolean;
  /** How the edge is served (default `workerd`). `wrangler-dev` runs one location only. */
  readonly edgeRuntime?: EdgeRuntime;
  /** Edge locations and store latency (default one location, no added latency). */
  readonly scenario?: Partial<StackScenario>;
  /** Also serve a copy of the edge with the Cache API off (the bench's L2 subject); workerd only. Default false. */
  readonly edgeNoL1Copy?: boolean;
  /** Also serve a copy of the edge with the usage ledger off (the bench's recording-cost figure); workerd only. Default false. */
  readonly edgeNoUsageCopy?: boolean;
  /** Which Redis to use (default: the one on REDIS_URL or 127.0.0.1:6379, else a spawned one). */
  readonly redis?: EnsureRedisOptions;
  /** The edge's METRICS_FLUSH_INTERVAL_MS (default 10000 locally: the dashboard fills quickly). */
  readonly metricsFlushIntervalMs?: number;
  /** Edge and adapters export spans to the metrics sink (default true); the bench turns it off: the sink would share the subject's cores. */
  readonly traces?: boolean;
  /** The edge's QUEUE_RETRY_BASE_SECONDS (default: the edge's own, 30 s); tests that rehearse outages make it short. */
  readonly queueRetryBaseSeconds?: number;
}

export interface StackInfo {
  /** Token of the local Upstash bridge (the operator CLI reads it from stack.json). */
  readonly bridgeToken: string;
  /** The edge's operator credential (OPERATOR_TOKEN) for this run; `gw dlq …` reads it from stack.json. */
  readonly operatorToken: string;
  /** The edge's URL (its first location); undefined when the stack was started without it. */
  readonly gatewayUrl: string | undefined;
  /** How the edge is served; undefined without an edge. */
  readonly edgeRuntime: EdgeRuntime | undefined;
  readonly scenario: StackScenario;
  readonly apiKey: string;
  readonly tenantId: string;
  readonly model: string;
  readonly components: {
    readonly redis: string;
    readonly bridge: string;
    readonly modelServer: string;
    readonly lambdaHost: { readonly sagemaker: string; readonly ecs: string };
    /** The first edge location (= gatewayUrl). */
    readonly edge: string | undefined;
    /** Every edge location, the first one first; empty without an edge. */
    readonly edges: readonly string[];
    /** The local metrics sink (PutMetricData endpoint and dashboard page). */
    readonly metricsSink: string;
  };
  /** The local dashboard page (the metrics sink's `GET /`). */
  readonly dashboardUrl: string;
  /** The signed webhook source the edge accepts (`npm run gw -- webhook send` reads it); `url` undefined without an edge. */
  readonly webhook: { readonly source: string; readonly scheme: 'standard'; readonly secret: string; readonly url: string | undefined };
  /** The local EventBridge stand-in: `GET {url}/admin/events` with `Authorization: Bearer {adminToken}` lists what reached `bus`. */
  readonly eventBridge: { readonly url: string; readonly bus: string; readonly adminToken: string };
  readonly startedAt: string;
}

export interface Stack extends StackInfo {
  readonly bridge: UpstashBridge;
  readonly modelServer: ModelServer;
  readonly metricsSink: MetricsSink;
  readonly eventBridgeStandIn: EventBridgeStandIn;
  /** The edge's settings (Worker bindings) for this stack, as written to .local/edge.env. */
  readonly edgeVars: Readonly<Record<string, string>>;
  /** The edge copy without the Cache API ({@link StackOptions.edgeNoL1Copy}). */
  readonly edgeNoL1Url: string | undefined;
  /** The edge copy with the usage ledger off ({@link StackOptions.edgeNoUsageCopy}). */
  readonly edgeNoUsageUrl: string | undefined;
  /** The bundle the edge serves (workerd runtime only). */
  readonly edgeBundle: WorkerBundle | undefined;
  /** Process ids, for CPU accounting: the edge's workerd (workerd runtime only) and the Lambda host. */
  readonly pids: { readonly edge: number | undefined; readonly lambdaHost: number };
  stop(): Promise<void>;
}

/** Brings the whole stack up; throws ComponentStartError (after stopping what started) on failure. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const progress = options.progress ?? (() => {});
  const log = options.log ?? (() => {});
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    stops.length = 0;
  };
  const step = async <T>(component: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      await stopAll();
      if (err instanceof ComponentStartError) throw err;
      throw new ComponentStartError(component, err instanceof Error ? err.message : String(err));
    }
  };

  await mkdir(options.stateDir, { recursive: true });
  const ports = { ...options.ports };
  const scenario: StackScenario = { edgeLocations: options.scenario?.edgeLocations ?? 1, storeLatencyMs: options.scenario?.storeLatencyMs ?? 0 };
  const edgeRuntime: EdgeRuntime = options.edgeRuntime ?? 'workerd';
  if (options.edge !== false && edgeRuntime === 'wrangler-dev' && (scenario.edgeLocations !== 1 || options.edgeNoL1Copy || options.edgeNoUsageCopy)) {
    throw new ComponentStartError('config', 'wrangler dev serves one edge location: EDGE_LOCATIONS needs `npm start` (the bundle in workerd)');
  }

  const redis: RedisHandle = await step('redis', () => ensureRedis(options.redis));
  stops.push(() => redis.stop());
  progress(`redis          ${redis.url} (${redis.spawned ? 'spawned, persistence off' : 'reused the running server'})`);

  const bridgeToken = randomBytes(24).toString('base64url');
  const bridge = await step('upstash-bridge', async () => {
    ports.bridge = await resolvePort('upstash-bridge', ports.bridge, 'UPSTASH_BRIDGE_PORT');
    return startUpstashBridge({ redisUrl: redis.url, token: bridgeToken, port: ports.bridge, log: (l) => log('upstash-bridge', l) });
  });
  stops.push(() => bridge.close());
  // The scenario's distance to the store: the bridge holds every Redis request this long.
  if (scenario.storeLatencyMs > 0) bridge.setFaults({ latencyMs: scenario.storeLatencyMs });
  progress(`upstash-bridge ${bridge.url}${scenario.storeLatencyMs > 0 ? ` (+${scenario.storeLatencyMs} ms on every store request: STORE_LATENCY_MS)` : ''}`);

  const modelServer = await step('model-server', async () => {
    ports.modelServer = await resolvePort('model-server', ports.modelServer, 'MODEL_SERVER_PORT');
    return startModelServer({ port: ports.modelServer, config: options.modelServer, log: (l) => log('model-server', l) });
  });
  stops.push(() => modelServer.close());
  progress(`model-server   ${modelServer.url} (reference model server: CPU stand-in for the GPU container)`);

  // The edge's AWS identity, accepted by the Lambda host's SigV4 check: fresh for every start.
  const edgeCredentials = { accessKeyId: `AKIALOCAL${randomBytes(6).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') };
  // Stands in for CloudWatch: the edge's PutMetricData (signed with its key) and the adapters' EMF lines.
  const metricsSink = await step('metrics-sink', async () => {
    const wanted = ports.metricsSink ?? 0;
    // The default port is a convenience, not a contract: a second stack on this machine takes another.
    const port =
      wanted === DEFAULT_METRICS_SINK_PORT && (await isListening(wanted)) ? await freePort() : await resolvePort('metrics-sink', wanted, 'METRICS_SINK_PORT');
    // The usage section reads the ledger's aggregates through the bridge, as the edge wrote them.
    const ledger = new Redis({ url: bridge.url, token: bridgeToken, enableTelemetry: false });
    const usage = (day: string) => tenantUsage(ledger, day);
    return startMetricsSink({
      port,
      region: REGION,
      credentials: [edgeCredentials],
      environment: LOCAL_ENVIRONMENT,
      usage,
      log: (l) => log('metrics-sink', l),
    });
  });
  stops.push(() => metricsSink.close());
  progress(
    `metrics-sink   ${metricsSink.url} (local dashboard; CloudWatch PutMetricData and EMF stand-in; OTLP traces at /v1/traces, timeline at /traces?request_id=…)`,
  );

  // Stands in for EventBridge: the edge's PutEvents (signed with its key) for `eventbridge` webhook actions.
  const bus = eventBusName(LOCAL_ENVIRONMENT);
  const eventBridgeAdminToken = randomBytes(16).toString('hex');
  const eventBridge = await step('eventbridge', async () =>
    startEventBridgeStandIn({
      port: 0,
      region: REGION,
      credentials: [edgeCredentials],
      adminToken: eventBridgeAdminToken,
      buses: [bus],
      log: (l) => log('eventbridge', l),
    }),
  );
  stops.push(() => eventBridge.close());
  progress(`eventbridge    ${eventBridge.url} (EventBridge stand-in: PutEvents to ${bus}, SigV4-checked)`);

  // Free ports (0) are probed and then bound by the Lambda host's own process a moment later, so a
  // stack starting beside this one may take one in between: then it starts again on new free ports.
  const freeLambdaPorts = ports.lambdaHost === 0;
  const lambdaPorts = async () => {
    const sagemaker = await step('lambda-host', () => resolvePort('lambda-host', freeLambdaPorts ? 0 : ports.lambdaHost, 'LAMBDA_HOST_PORT'));
    // The ECS adapter's Function URL: the next port after the SageMaker adapter's (a free one of its own when ports are free).
    const ecs = await step('lambda-host', () => resolvePort('lambda-host', freeLambdaPorts ? 0 : sagemaker + 1, 'LAMBDA_HOST_PORT'));
    return { sagemaker, ecs };
  };
  let lambdaHost: Child | undefined;
  let ecsPort = 0;
  for (let attempt = 1; lambdaHost === undefined; attempt++) {
    const chosen = await lambdaPorts();
    ports.lambdaHost = chosen.sagemaker;
    ecsPort = chosen.ecs;
    const adapterFunction = (name: string, port: number, env: Record<string, string>) => ({
      name,
      module: join(REPO_ROOT, `backend/handlers/${name}.ts`),
      port,
      invokeMode: 'RESPONSE_STREAM',
      timeoutMs: 120_000,
      env,
    });
    const lambdaConfigPath = join(options.stateDir, 'lambda-host.json');
    await writeFile(
      lambdaConfigPath,
      JSON.stringify({
        region: REGION,
        credentials: [edgeCredentials],
        functions: [
          adapterFunction('sagemaker', ports.lambdaHost, {
            SAGEMAKER_RUNTIME_ENDPOINT: modelServer.url,
            SAGEMAKER_MODELS: JSON.stringify({ ...LOCAL_SAGEMAKER_MODELS, [LOCAL_FALLBACK_MODEL.name]: LOCAL_FALLBACK_MODEL.sagemaker }),
          }),
          adapterFunction('ecs', ecsPort, {
            // The internal ALB in front of the vLLM service, here the model server's OpenAI-compatible API.
            ECS_BASE_URL: `${modelServer.url}/v1`,
            ECS_MODELS: JSON.stringify({ ...LOCAL_ECS_MODELS, [LOCAL_FALLBACK_MODEL.name]: LOCAL_FALLBACK_MODEL.ecs }),
          }),
        ],
      }),
      { mode: 0o600 },
    );
    const child: Child = spawnChild({
      name: 'lambda-host',
      command: process.execPath,
      args: ['--import', 'tsx', join(REPO_ROOT, 'tools/lambda-host/main.ts'), lambdaConfigPath],
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        AWS_REGION: REGION,
        // Credentials the adapter's SDK uses towards the SageMaker stand-in.
        AWS_ACCESS_KEY_ID: 'AKIALOCALSAGEMAKER',
        AWS_SECRET_ACCESS_KEY: 'local-sagemaker-secret',
        // Powertools stays local: readable logs, no EMF output, no X-Ray (no daemon, no AWS calls).
        POWERTOOLS_DEV: 'true',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        POWERTOOLS_TRACE_ENABLED: 'false',
        AWS_EC2_METADATA_DISABLED: 'true',
        // EMF on stdout despite POWERTOOLS_DEV, under the environment's namespace: the metrics sink reads it.
        POWERTOOLS_METRICS_DISABLED: 'false',
        POWERTOOLS_METRICS_NAMESPACE: adapterNamespace(LOCAL_ENVIRONMENT),
        // The adapters' spans (OpenTelemetry SDK, OTLP/HTTP JSON) go to the metrics sink, as the edge's do.
        ENVIRONMENT: LOCAL_ENVIRONMENT,
        ...(options.traces !== false ? { TRACES_ENDPOINT: `${metricsSink.url}/v1/traces` } : {}),
      },
      onLine: (l) => {
        if (!metricsSink.ingestLine(l)) log('lambda-host', l);
      },
    });
    const bothListening = async () => (await isListening(chosen.sagemaker)) && (await isListening(chosen.ecs));
    try {
      // Not through `step` yet: a failed step stops every component, and a retry needs them running.
      await waitUntilReady(child, bothListening, `not listening on ${chosen.sagemaker} and ${chosen.ecs}`, 30_000);
      lambdaHost = child;
    } catch (err) {
      await child.stop();
      const portTaken = err instanceof ComponentStartError && err.message.includes('EADDRINUSE');
      if (!(freeLambdaPorts && attempt < 3 && portTaken)) await step('lambda-host', () => Promise.reject(err));
    }
  }
  const started = lambdaHost;
  stops.push(() => started.stop());
  const lambdaUrl = `http://127.0.0.1:${ports.lambdaHost}`;
  const ecsUrl = `http://127.0.0.1:${ecsPort}`;
  progress(`lambda-host    ${lambdaUrl} (SageMaker adapter), ${ecsUrl} (ECS adapter): Function URLs with AWS_IAM auth, RESPONSE_STREAM`);
  type LocalBackend = { name: string; url: string; kind: 'sagemaker' | 'ecs' };
  type LocalRoute = {
    backends: LocalBackend[];
    fallbacks?: LocalBackend[];
    responses?: 'native';
    capabilities?: Record<string, unknown>;
    embeddings?: object;
    price?: typeof LOCAL_PRICE;
  };
  const routes: Record<string, LocalRoute> = {};
  const capabilities = (format: string) =>
    format === 'openai-chat'
      ? { capabilities: OPENAI_CHAT_CAPABILITIES }
      : format === 'tgi-messages'
        ? { capabilities: TGI_MESSAGES_CAPABILITIES }
        : format === 'openai-completions'
          ? { capabilities: OPENAI_COMPLETIONS_CAPABILITIES }
          : format === 'tgi'
            ? { capabilities: TGI_GENERATE_CAPABILITIES }
            : {};
  for (const [model, { format }] of Object.entries(LOCAL_SAGEMAKER_MODELS))
    routes[model] = { backends: [{ name: 'sagemaker-local', url: lambdaUrl, kind: 'sagemaker' }], ...capabilities(format) };
  for (const [model, { format }] of Object.entries(LOCAL_ECS_MODELS))
    routes[model] = { backends: [{ name: 'ecs-local', url: ecsUrl, kind: 'ecs' }], ...capabilities(format) };
  routes[LOCAL_NATIVE_RESPONSES_MODEL] = { ...routes[LOCAL_NATIVE_RESPONSES_MODEL]!, responses: 'native' };
  routes[LOCAL_VISION_MODEL] = { ...routes[LOCAL_VISION_MODEL]!, capabilities: { ...OPENAI_CHAT_CAPABILITIES, vision: true } };
  for (const [model, embeddings] of Object.entries(LOCAL_EMBEDDING_MODELS)) routes[model] = { ...routes[model]!, embeddings };
  routes[LOCAL_FALLBACK_MODEL.name] = {
    backends: [{ name: 'sagemaker-local', url: lambdaUrl, kind: 'sagemaker' }],
    fallbacks: [{ name: 'ecs-local', url: ecsUrl, kind: 'ecs' }],
  };

  // Every local model has the same example price, so the usage ledger bills something.
  for (const route of Object.values(routes)) route.price = LOCAL_PRICE;

  // Fresh for every start, like the bridge token: operator routes (every tenant's dead letters) need it.
  const operatorToken = generateOperatorToken();
  // A fresh signing secret per start too: stack.json hands it to `gw webhook send`.
  const webhooks = localWebhookVars({ tenantId: DEV_TENANT_ID, model: LOCAL_MODEL, eventBridgeUrl: eventBridge.url, secret: generateWebhookSecret() });
  const edgeVars: Record<string, string> = {
    ENVIRONMENT: LOCAL_ENVIRONMENT,
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridgeToken,
    ROUTE_TABLE: JSON.stringify({ models: routes, currency: 'USD' }),
    AWS_ACCESS_KEY_ID: edgeCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: edgeCredentials.secretAccessKey,
    AWS_REGION: REGION,
    METRICS_ENDPOINT: metricsSink.url,
    METRICS_FLUSH_INTERVAL_MS: String(options.metricsFlushIntervalMs ?? 10_000),
    // One request's spans: the sink's `/traces?request_id=…` draws them.
    ...(options.traces !== false ? { TRACES_ENDPOINT: `${metricsSink.url}/v1/traces` } : {}),
    OPERATOR_TOKEN: operatorToken,
    // Local only: job callbacks may go to http://127.0.0.1 (the SSRF guard refuses loopback otherwise).
    CALLBACK_ALLOW_LOOPBACK: 'true',
    ...webhooks.vars,
    ...(options.queueRetryBaseSeconds !== undefined ? { QUEUE_RETRY_BASE_SECONDS: String(options.queueRetryBaseSeconds) } : {}),
  };
  let edge: RunningEdge | undefined;
  if (options.edge !== false) {
    const edgeEnvPath = join(options.stateDir, 'edge.env');
    await writeEdgeEnv(edgeEnvPath, edgeVars);
    const started = await step('edge', () =>
      startEdge({
        runtime: edgeRuntime,
        stateDir: options.stateDir,
        envFile: edgeEnvPath,
        bindings: edgeVars,
        gatewayPort: ports.gateway,
        locations: scenario.edgeLocations,
        noL1Copy: options.edgeNoL1Copy === true,
        noUsageCopy: options.edgeNoUsageCopy === true,
        log: (l) => log('edge', l),
      }),
    );
    stops.push(() => started.stop());
    edge = started;
    progress(`edge           ${started.description}`);
  }
  const edgeUrls = edge?.urls ?? [];
  const gatewayUrl = edgeUrls[0];

  const { tenantId, apiKey } = await step('seed', async () => {
    const store = new Redis({ url: bridge.url, token: bridgeToken, enableTelemetry: false });
    const tenant = await createTenant(store, { tenantId: DEV_TENANT_ID, name: 'Local development', plan: 'pro', replace: true });
    const created = await createApiKey(store, { tenant, mode: 'test', scopes: ['infer', 'jobs', 'webhooks:ingest'] });
    return { tenantId: tenant.tenantId, apiKey: created.key };
  });
  progress(`seed           tenant ${tenantId} with a new key`);

  const info: StackInfo = {
    bridgeToken,
    operatorToken,
    gatewayUrl,
    edgeRuntime: options.edge === false ? undefined : edgeRuntime,
    scenario,
    apiKey,
    tenantId,
    model: LOCAL_MODEL,
    components: {
      redis: redis.url,
      bridge: bridge.url,
      modelServer: modelServer.url,
      lambdaHost: { sagemaker: lambdaUrl, ecs: ecsUrl },
      edge: gatewayUrl,
      edges: edgeUrls,
      metricsSink: metricsSink.url,
    },
    dashboardUrl: `${metricsSink.url}/`,
    webhook: { ...webhooks.source, url: gatewayUrl ? `${gatewayUrl}/webhooks/${webhooks.source.source}` : undefined },
    eventBridge: { url: eventBridge.url, bus, adminToken: eventBridgeAdminToken },
    startedAt: new Date().toISOString(),
  };
  await writeFile(join(options.stateDir, 'stack.json'), `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  return {
    ...info,
    bridge,
    modelServer,
    metricsSink,
    eventBridgeStandIn: eventBridge,
    edgeVars,
    edgeNoL1Url: edge?.noL1Url,
    edgeNoUsageUrl: edge?.noUsageUrl,
    edgeBundle: edge?.bundle,
    pids: { edge: edge?.pid, lambdaHost: lambdaHost.pid },
    stop: stopAll,
  };
}
