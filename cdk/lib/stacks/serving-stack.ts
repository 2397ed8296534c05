/**
 * The GPU serving layer of one environment: the SageMaker real-time endpoint and, when enabled, the
 * ECS GPU service with its VPC. Slow to create (GPU capacity, model download), rarely changed.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments';
import { DEFAULT_CONTAINERS } from '../model-containers';
import { GpuService } from '../constructs/gpu-service';
import { SagemakerEndpoint } from '../constructs/sagemaker-endpoint';
import { logRetention } from './log-retention';

/** Props of ServingStack. */
export interface ServingStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/** SageMaker endpoint + optional ECS GPU service. */
export class ServingStack extends Stack {
  public readonly sagemaker: SagemakerEndpoint;
  public readonly gpuService?: GpuService;

  constructor(scope: Construct, id: string, props: ServingStackProps) {
    super(scope, id, props);
    const { config } = props;
    const sm = config.sagemaker;
    this.sagemaker = new SagemakerEndpoint(this, 'Sagemaker', {
      endpointName: `inference-gateway-${config.name}-llm`,
      container: DEFAULT_CONTAINERS[sm.container],
      ...(sm.hfModelId ? { hfModelId: sm.hfModelId } : {}),
      ...(sm.modelDataUrl ? { modelDataUrl: sm.modelDataUrl } : {}),
      instanceType: sm.instanceType,
      gpusPerInstance: sm.gpusPerInstance,
      minCapacity: sm.minCapacity,
      maxCapacity: sm.maxCapacity,
      scaleToZero: sm.scaleToZero,
      scalingMetric: sm.scalingMetric,
      scalingTarget: sm.scalingTarget,
    });

    if (config.ecs.enabled) {
      this.gpuService = new GpuService(this, 'GpuService', {
        modelName: config.ecs.modelName,
        hfModelId: config.ecs.hfModelId,
        instanceType: config.ecs.instanceType,
        minCapacity: config.ecs.minCapacity,
        maxCapacity: config.ecs.maxCapacity,
        requestsPerTarget: config.ecs.requestsPerTarget,
        natGateways: config.ecs.natGateways,
        logRetention: logRetention(config.logRetentionDays),
      });
    }
  }
}
