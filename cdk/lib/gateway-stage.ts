/**
 * One environment of the gateway: its three stacks (serving, adapters, observability), named
 * `inference-gateway-<env>-<part>` and tagged with the environment (stack tags). `GatewayStage` wraps them in a
 * CDK Stage (one per environment when the app synthesises all of them); `addGatewayStacks` puts them
 * into any Stage, including the App itself when `-c env=NAME` selects one environment, so that
 * `cdk deploy -c env=NAME --all` finds them (the CLI's `--all` only deploys top-level stacks).
 */
import { join } from 'node:path';
import { Stage, type StageProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from './environments';
import { AdaptersStack } from './stacks/adapters-stack';
import { ObservabilityStack } from './stacks/observability-stack';
import { ServingStack } from './stacks/serving-stack';

/** What one environment's stacks are built from. */
export interface GatewayStacksOptions {
  readonly config: EnvironmentConfig;
  /** Repository root: the adapters' entries are `backend/handlers/*.ts` below it. */
  readonly repoRoot: string;
}

/** The stacks of one environment. */
export interface GatewayStacks {
  readonly serving: ServingStack;
  readonly adapters: AdaptersStack;
  readonly observability: ObservabilityStack;
}

/** Adds one environment's stacks to `scope` (a Stage or the App). */
export function addGatewayStacks(scope: Construct, options: GatewayStacksOptions): GatewayStacks {
  const { config, repoRoot } = options;
  const prefix = `inference-gateway-${config.name}`;
  const env = { region: config.region, ...(config.account ? { account: config.account } : {}) };
  // Stack tags: CloudFormation propagates them to every resource that supports tags.
  const tags = { Project: 'inference-gateway', Environment: config.name };
  const stackProps = (part: string, description: string) => ({
    stackName: `${prefix}-${part}`,
    env,
    tags,
    description,
    terminationProtection: config.name === 'prod',
  });
  const serving = new ServingStack(scope, `${prefix}-serving`, {
    ...stackProps('serving', `Inference gateway ${config.name}: SageMaker endpoint and ECS GPU service`),
    config,
  });
  const adapters = new AdaptersStack(scope, `${prefix}-adapters`, {
    ...stackProps('adapters', `Inference gateway ${config.name}: Lambda adapters and the edge principal`),
    config,
    sagemaker: serving.sagemaker,
    ...(serving.gpuService ? { gpuService: serving.gpuService } : {}),
    projectRoot: repoRoot,
    sagemakerAdapterEntry: join(repoRoot, 'backend/handlers/sagemaker.ts'),
    ecsAdapterEntry: join(repoRoot, 'backend/handlers/ecs.ts'),
  });
  adapters.addStackDependency(serving, 'adapters call the endpoint and the GPU service');
  const observability = new ObservabilityStack(scope, `${prefix}-observability`, {
    ...stackProps('observability', `Inference gateway ${config.name}: dashboard, alarms and alarm topic`),
    config,
    sagemaker: serving.sagemaker,
    adapters: [
      { serviceName: 'sagemaker-adapter', adapter: adapters.sagemakerAdapter },
      ...(adapters.ecsAdapter ? [{ serviceName: 'ecs-adapter', adapter: adapters.ecsAdapter }] : []),
    ],
    ...(serving.gpuService ? { gpuService: serving.gpuService } : {}),
  });
  observability.addStackDependency(adapters, 'alarms watch the adapters');

  return { serving, adapters, observability };
}

/** Props of GatewayStage. */
export interface GatewayStageProps extends StageProps, GatewayStacksOptions {}

/** One environment as a CDK Stage. */
export class GatewayStage extends Stage {
  public readonly stacks: GatewayStacks;

  constructor(scope: Construct, id: string, props: GatewayStageProps) {
    super(scope, id, props);
    this.stacks = addGatewayStacks(this, props);
  }
}
