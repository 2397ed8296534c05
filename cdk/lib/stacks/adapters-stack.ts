/**
 * The backend adapters of one environment and the edge's identity: the SageMaker adapter (always),
 * the ECS adapter (when the environment runs the GPU service), each behind a SigV4-only Function URL,
 * the IAM user the edge signs with, and the event bus the edge may put webhook events on. Outputs
 * are everything the edge needs: the adapter URLs, a ROUTE_TABLE value, the bus's name and ARN, and
 * the `wrangler secret put` commands.
 */
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { EnvironmentConfig, TracesEnvironmentConfig } from '../environments';
import { AdapterFunction } from '../constructs/adapter-function';
import { EdgePrincipal } from '../constructs/edge-principal';
import { GatewayEventBus } from '../constructs/event-bus';
import type { GpuService } from '../constructs/gpu-service';
import type { SagemakerEndpoint } from '../constructs/sagemaker-endpoint';
import { logRetention } from './log-retention';

/** Props of AdaptersStack. */
export interface AdaptersStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly sagemaker: SagemakerEndpoint;
  /** The ECS GPU service, when the environment has one. */
  readonly gpuService?: GpuService;
  /** Repository root (package-lock.json, tsconfig.json). */
  readonly projectRoot: string;
  /** Handler file of the SageMaker adapter. */
  readonly sagemakerAdapterEntry: string;
  /** Handler file of the ECS adapter, used when the environment has a GPU service. */
  readonly ecsAdapterEntry: string;
}

/** Adapter functions + the edge principal. */
export class AdaptersStack extends Stack {
  public readonly sagemakerAdapter: AdapterFunction;
  public readonly ecsAdapter?: AdapterFunction;
  public readonly edgePrincipal: EdgePrincipal;
  public readonly eventBus: GatewayEventBus;

  constructor(scope: Construct, id: string, props: AdaptersStackProps) {
    super(scope, id, props);
    const { config, sagemaker } = props;
    // The adapters' own deadline for a non-streaming model call: inside the function timeout.
    const requestTimeoutMs = String(config.adapters.timeoutSeconds * 1000 - 5000);
    const traces = tracesEnvironment(config.adapters.traces);
    const common = {
      environmentName: config.name,
      projectRoot: props.projectRoot,
      memorySize: config.adapters.memorySize,
      timeout: Duration.seconds(config.adapters.timeoutSeconds),
      logRetention: logRetention(config.logRetentionDays),
      ...(config.adapters.reservedConcurrency !== undefined ? { reservedConcurrency: config.adapters.reservedConcurrency } : {}),
    };

    this.sagemakerAdapter = new AdapterFunction(this, 'SagemakerAdapter', {
      ...common,
      entry: props.sagemakerAdapterEntry,
      serviceName: 'sagemaker-adapter',
      functionName: `inference-gateway-${config.name}-sagemaker-adapter`,
      environment: {
        ...traces,
        // Parsed by backend/config/sagemaker.ts (strict schema: no other keys).
        SAGEMAKER_REQUEST_TIMEOUT_MS: requestTimeoutMs,
        SAGEMAKER_MODELS: JSON.stringify({
          [config.sagemaker.modelName]: {
            endpointName: sagemaker.endpointName,
            format: sagemaker.container.format,
            ...(sagemaker.inferenceComponentName ? { inferenceComponent: sagemaker.inferenceComponentName } : {}),
          },
        }),
      },
    });
    sagemaker.grantInvoke(this.sagemakerAdapter.role);

    if (props.gpuService) {
      const gpu = props.gpuService;
      this.ecsAdapter = new AdapterFunction(this, 'EcsAdapter', {
        ...common,
        entry: props.ecsAdapterEntry,
        serviceName: 'ecs-adapter',
        functionName: `inference-gateway-${config.name}-ecs-adapter`,
        vpc: gpu.vpc,
        environment: {
          ...traces,
          // Parsed by backend/config/ecs.ts; modelId defaults to the model name (vLLM's --served-model-name).
          ECS_BASE_URL: `${gpu.url}/v1`,
          ECS_REQUEST_TIMEOUT_MS: requestTimeoutMs,
          ECS_MODELS: JSON.stringify({ [gpu.modelName]: { format: 'openai-chat' } }),
        },
      });
      gpu.allowInvokeFrom(this.ecsAdapter.function);
    }

    const adapters = [this.sagemakerAdapter, ...(this.ecsAdapter ? [this.ecsAdapter] : [])];
    this.edgePrincipal = new EdgePrincipal(this, 'EdgePrincipal', {
      environmentName: config.name,
      adapters,
      ...(config.edgeKeySerial !== undefined ? { keySerial: config.edgeKeySerial } : {}),
    });

    new CfnOutput(this, 'SagemakerAdapterUrl', { value: this.sagemakerAdapter.url });
    if (this.ecsAdapter) new CfnOutput(this, 'EcsAdapterUrl', { value: this.ecsAdapter.url });
    // One entry per model; a model served by both backends lists SageMaker first, ECS as fallback.
    const models: Record<string, { backends: { name: string; url: string; kind: 'sagemaker' | 'ecs' }[] }> = {};
    const route = (model: string, name: string, url: string, kind: 'sagemaker' | 'ecs') => {
      models[model] ??= { backends: [] };
      models[model].backends.push({ name, url, kind });
    };
    route(config.sagemaker.modelName, 'sagemaker', this.sagemakerAdapter.url, 'sagemaker');
    if (this.ecsAdapter && props.gpuService) route(props.gpuService.modelName, 'ecs', this.ecsAdapter.url, 'ecs');
    new CfnOutput(this, 'EdgeRouteTable', {
      description: `ROUTE_TABLE for the ${config.name} edge (wrangler.toml [env.${config.name}.vars])`,
      value: this.toJsonString({ models }),
    });
    new CfnOutput(this, 'EdgeAwsRegion', { description: 'AWS_REGION for the edge', value: this.region });

    this.eventBus = new GatewayEventBus(this, 'EventBus', {
      environmentName: config.name,
      archiveRetention: Duration.days(config.events.archiveRetentionDays),
    });
    this.edgePrincipal.allowPutEvents(this.eventBus.bus);
    new CfnOutput(this, 'EdgeEventBusName', {
      description: `The bus the ${config.name} edge puts eventbridge actions on`,
      value: this.eventBus.bus.eventBusName,
    });
    new CfnOutput(this, 'EdgeEventBusArn', { description: 'Its ARN, for rules of AWS-side consumers', value: this.eventBus.bus.eventBusArn });
    new CfnOutput(this, 'EventDeadLetterQueueUrl', {
      description: 'Dead letters of the bus and of its rule targets',
      value: this.eventBus.deadLetterQueue.queueUrl,
    });
  }
}

/** The adapters' trace settings as backend/config/env.ts reads them; none without a collector. */
function tracesEnvironment(traces: TracesEnvironmentConfig | undefined): Record<string, string> {
  if (!traces) return {};
  if (!/^https?:\/\/[^/]/.test(traces.endpoint)) throw new Error(`adapters.traces.endpoint must be an http(s) URL, got '${traces.endpoint}'`);
  if (traces.sampleRatio !== undefined && !(traces.sampleRatio >= 0 && traces.sampleRatio <= 1))
    throw new Error('adapters.traces.sampleRatio must be within 0–1');
  return {
    TRACES_ENDPOINT: traces.endpoint,
    ...(traces.timeoutMs !== undefined ? { TRACES_TIMEOUT_MS: String(traces.timeoutMs) } : {}),
    ...(traces.sampleRatio !== undefined ? { TRACES_SAMPLE_RATIO: String(traces.sampleRatio) } : {}),
  };
}
