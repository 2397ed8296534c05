/**
 * The typed environments config: one entry per deployable environment (`dev`, `staging`, `prod`).
 * Everything that differs between environments lives here and nowhere else; constructs get it
 * through typed props. `selectEnvironments` turns the `-c env=NAME` context value into the list of
 * environments the app synthesises.
 */
import { DEFAULT_ALARM_THRESHOLDS } from './constructs/gateway-alarms';

/** The environments this app knows. */
export const ENVIRONMENT_NAMES = ['dev', 'staging', 'prod'] as const;
/** `dev` | `staging` | `prod`. */
export type EnvironmentName = (typeof ENVIRONMENT_NAMES)[number];

/** The serving container family of the SageMaker model; decides the image and the adapter format. */
export type ModelContainerKind = 'tgi' | 'lmi';

/** What the SageMaker autoscaling tracks. */
export type SagemakerScalingMetric = 'invocations-per-instance' | 'concurrent-requests';

/** The SageMaker real-time endpoint of an environment. */
export interface SagemakerEnvironmentConfig {
  /** Public model name (the `model` field clients send, the key in the adapter's SAGEMAKER_MODELS). */
  readonly modelName: string;
  /** Container family: Hugging Face TGI or LMI (DJL Serving with vLLM, OpenAI-compatible). */
  readonly container: ModelContainerKind;
  /** Hugging Face hub id the container downloads at start-up (ignored when `modelDataUrl` is set). */
  readonly hfModelId?: string;
  /** `s3://bucket/key.tar.gz` (or a prefix ending in `/`) with the model weights; enables network isolation. */
  readonly modelDataUrl?: string;
  /** GPU instance type, e.g. `ml.g5.xlarge`. */
  readonly instanceType: string;
  /** GPUs on that instance type (tensor parallel degree, accelerators per inference component). */
  readonly gpusPerInstance: number;
  /** Lowest capacity (instances, or model copies with scale-to-zero). */
  readonly minCapacity: number;
  /** Highest capacity (instances, or model copies with scale-to-zero). */
  readonly maxCapacity: number;
  /** Host the model as an inference component that scales to zero copies when idle. */
  readonly scaleToZero: boolean;
  /** The target-tracking metric. */
  readonly scalingMetric: SagemakerScalingMetric;
  /** Target value: invocations per instance per minute, or concurrent requests per model/copy. */
  readonly scalingTarget: number;
}

/** The ECS GPU service alternative of an environment. */
export interface EcsEnvironmentConfig {
  /** Create the VPC, cluster, GPU capacity and service. */
  readonly enabled: boolean;
  /** Public model name served by the vLLM container. */
  readonly modelName: string;
  /** Hugging Face hub id vLLM serves. */
  readonly hfModelId: string;
  /** GPU EC2 instance type, e.g. `g5.xlarge`. */
  readonly instanceType: string;
  /** Lowest number of tasks (and instances: one GPU task per instance). */
  readonly minCapacity: number;
  /** Highest number of tasks. */
  readonly maxCapacity: number;
  /** ALB requests per target per minute the service scales on. */
  readonly requestsPerTarget: number;
  /** NAT gateways for the private subnets (1 saves money, one per AZ survives an AZ outage). */
  readonly natGateways: number;
}

/** Where an environment's adapters send their spans: an OTLP/HTTP collector (backend/core/tracing.ts). */
export interface TracesEnvironmentConfig {
  /** The collector's traces URL, e.g. `https://otel-collector.internal.example/v1/traces`. */
  readonly endpoint: string;
  /** Bound on one export and on the flush before an invocation ends (ms). @default 2000 (the adapter's) */
  readonly timeoutMs?: number;
  /** Share of traces the adapters start that are sampled (0–1); the edge decides for the traces it forwards. @default 1 */
  readonly sampleRatio?: number;
}

/** The Lambda adapters of an environment. */
export interface AdaptersEnvironmentConfig {
  /** Reserved concurrency per adapter; undefined leaves the account pool unreserved (new accounts have 10). */
  readonly reservedConcurrency?: number;
  /** Memory in MiB (CPU scales with it). */
  readonly memorySize: number;
  /** Function timeout in seconds; the adapter's own invoke deadline is 5 s shorter. */
  readonly timeoutSeconds: number;
  /** The adapters' trace collector; absent: no spans are recorded (zero cost). The edge's is `TRACES_ENDPOINT` in wrangler.toml. */
  readonly traces?: TracesEnvironmentConfig;
}

/** Alarm thresholds (SPEC §10 defaults). */
export interface AlarmsEnvironmentConfig {
  /** Edge p95 latency SLO in ms; the alarm fires above twice this for 5 minutes. */
  readonly edgeLatencySloMs: number;
  /** Model p95 latency SLO in ms (SageMaker ModelLatency); the alarm fires above twice this for 5 minutes. */
  readonly modelLatencySloMs: number;
  /** 5xx share in percent that fires the error-rate alarms after 3 minutes. */
  readonly errorRatePercent: number;
  /** Dead-letter messages that fire the DLQ alarm. */
  readonly dlqThreshold: number;
  /** Queue consumer batch size; the backlog alarm fires above 3x this. */
  readonly queueBatchSize: number;
  /** Optional e-mail address subscribed to the alarm topic. */
  readonly email?: string;
}

/** The environment's event bus (webhook `eventbridge` actions). */
export interface EventsEnvironmentConfig {
  /** Days the replay archive keeps every gateway event. */
  readonly archiveRetentionDays: number;
}

/** One deployable environment. */
export interface EnvironmentConfig {
  readonly name: EnvironmentName;
  /** AWS account id; leave undefined for account-agnostic templates (the CLI's credentials decide). */
  readonly account?: string;
  /** AWS region of every stack of this environment. */
  readonly region: string;
  /** Serial of the edge's IAM access key: increase it to rotate the key. @default 1 */
  readonly edgeKeySerial?: number;
  /** CloudWatch Logs retention in days for the adapters and the ECS tasks. */
  readonly logRetentionDays: LogRetentionDays;
  readonly sagemaker: SagemakerEnvironmentConfig;
  readonly ecs: EcsEnvironmentConfig;
  readonly adapters: AdaptersEnvironmentConfig;
  readonly alarms: AlarmsEnvironmentConfig;
  readonly events: EventsEnvironmentConfig;
}

/** Retention periods CloudWatch Logs accepts (a subset). */
export type LogRetentionDays = 1 | 3 | 5 | 7 | 14 | 30 | 60 | 90 | 180 | 365 | 731;

/**
 * The three environments. Edit here; nothing else reads environment-specific values. The default
 * models are openly licensed and not gated on the Hugging Face hub (a gated model needs a token:
 * put its weights in S3 and set `modelDataUrl` instead).
 */
export const ENVIRONMENTS: Readonly<Record<EnvironmentName, EnvironmentConfig>> = {
  dev: {
    name: 'dev',
    region: 'us-east-1',
    logRetentionDays: 7,
    sagemaker: {
      modelName: 'qwen2.5-7b-instruct',
      container: 'tgi',
      hfModelId: 'Qwen/Qwen2.5-7B-Instruct',
      instanceType: 'ml.g5.xlarge',
      gpusPerInstance: 1,
      minCapacity: 0,
      maxCapacity: 1,
      scaleToZero: true,
      scalingMetric: 'concurrent-requests',
      scalingTarget: 4,
    },
    ecs: {
      enabled: false,
      modelName: 'phi-3.5-mini-instruct',
      hfModelId: 'microsoft/Phi-3.5-mini-instruct',
      instanceType: 'g5.xlarge',
      minCapacity: 1,
      maxCapacity: 1,
      requestsPerTarget: 120,
      natGateways: 1,
    },
    adapters: { memorySize: 512, timeoutSeconds: 120 },
    alarms: DEFAULT_ALARM_THRESHOLDS,
    events: { archiveRetentionDays: 7 },
  },
  staging: {
    name: 'staging',
    region: 'us-east-1',
    logRetentionDays: 30,
    sagemaker: {
      modelName: 'qwen2.5-7b-instruct',
      container: 'lmi',
      hfModelId: 'Qwen/Qwen2.5-7B-Instruct',
      instanceType: 'ml.g5.2xlarge',
      gpusPerInstance: 1,
      minCapacity: 0,
      maxCapacity: 2,
      scaleToZero: true,
      scalingMetric: 'concurrent-requests',
      scalingTarget: 8,
    },
    ecs: {
      enabled: true,
      modelName: 'phi-3.5-mini-instruct',
      hfModelId: 'microsoft/Phi-3.5-mini-instruct',
      instanceType: 'g5.xlarge',
      minCapacity: 1,
      maxCapacity: 2,
      requestsPerTarget: 120,
      natGateways: 1,
    },
    adapters: { reservedConcurrency: 50, memorySize: 1024, timeoutSeconds: 300 },
    alarms: DEFAULT_ALARM_THRESHOLDS,
    events: { archiveRetentionDays: 30 },
  },
  prod: {
    name: 'prod',
    region: 'us-east-1',
    logRetentionDays: 365,
    sagemaker: {
      modelName: 'qwen2.5-7b-instruct',
      container: 'lmi',
      hfModelId: 'Qwen/Qwen2.5-7B-Instruct',
      instanceType: 'ml.g5.2xlarge',
      gpusPerInstance: 1,
      minCapacity: 2,
      maxCapacity: 8,
      scaleToZero: false,
      scalingMetric: 'concurrent-requests',
      scalingTarget: 8,
    },
    ecs: {
      enabled: true,
      modelName: 'phi-3.5-mini-instruct',
      hfModelId: 'microsoft/Phi-3.5-mini-instruct',
      instanceType: 'g5.2xlarge',
      minCapacity: 2,
      maxCapacity: 6,
      requestsPerTarget: 120,
      natGateways: 2,
    },
    adapters: { reservedConcurrency: 200, memorySize: 1024, timeoutSeconds: 300 },
    alarms: DEFAULT_ALARM_THRESHOLDS,
    events: { archiveRetentionDays: 365 },
  },
};

/** Raised for an `-c env=` value that names no environment. */
export class UnknownEnvironmentError extends Error {
  override readonly name = 'UnknownEnvironmentError';
}

/**
 * The environments to synthesise: the one named by the `env` context value, or all of them when it
 * is absent or empty. Throws UnknownEnvironmentError (listing the valid names) for anything else.
 */
export function selectEnvironments(selected: unknown, environments: Readonly<Record<EnvironmentName, EnvironmentConfig>> = ENVIRONMENTS): EnvironmentConfig[] {
  if (selected === undefined || selected === null || selected === '') return ENVIRONMENT_NAMES.map((n) => environments[n]);
  if (typeof selected === 'string' && (ENVIRONMENT_NAMES as readonly string[]).includes(selected)) {
    return [environments[selected as EnvironmentName]];
  }
  throw new UnknownEnvironmentError(
    `unknown environment ${JSON.stringify(selected)}: use -c env=${ENVIRONMENT_NAMES.join('|')} (or omit it to synthesise all)`,
  );
}
