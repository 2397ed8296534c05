/**
 * Observability of one environment: the encrypted alarm topic, the alarms with the SPEC §10
 * thresholds, and the dashboard covering the edge, the adapters, SageMaker and the ECS service.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { EnvironmentConfig } from '../environments';
import { AlarmTopic } from '../constructs/alarm-topic';
import type { AdapterFunction } from '../constructs/adapter-function';
import { GatewayAlarms, type MonitoredAdapter } from '../constructs/gateway-alarms';
import { GatewayDashboard, type DashboardGpuService } from '../constructs/gateway-dashboard';
import type { GpuService } from '../constructs/gpu-service';
import type { SagemakerEndpoint } from '../constructs/sagemaker-endpoint';

/** Props of ObservabilityStack. */
export interface ObservabilityStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  readonly sagemaker: SagemakerEndpoint;
  /** Adapter functions by service name. */
  readonly adapters: readonly { serviceName: string; adapter: AdapterFunction }[];
  readonly gpuService?: GpuService;
}

/** Alarm topic, alarms and dashboard. */
export class ObservabilityStack extends Stack {
  public readonly alarmTopic: AlarmTopic;
  public readonly alarms: GatewayAlarms;
  public readonly dashboard: GatewayDashboard;

  constructor(scope: Construct, id: string, props: ObservabilityStackProps) {
    super(scope, id, props);
    const { config, sagemaker, gpuService } = props;
    const { email, ...thresholds } = config.alarms;
    const target = {
      endpointName: sagemaker.endpointName,
      variantName: sagemaker.variantName,
      ...(sagemaker.inferenceComponentName ? { inferenceComponentName: sagemaker.inferenceComponentName } : {}),
    };
    const adapters: MonitoredAdapter[] = props.adapters.map((a) => ({ serviceName: a.serviceName, function: a.adapter.function }));
    const gpu: DashboardGpuService | undefined = gpuService && {
      loadBalancer: gpuService.loadBalancer,
      targetGroup: gpuService.targetGroup,
      clusterName: gpuService.cluster.clusterName,
      serviceName: gpuService.service.serviceName,
    };

    this.alarmTopic = new AlarmTopic(this, 'AlarmTopic', { environmentName: config.name, ...(email ? { emails: [email] } : {}) });
    this.alarms = new GatewayAlarms(this, 'Alarms', {
      environmentName: config.name,
      action: this.alarmTopic.action,
      thresholds,
      sagemaker: target,
      adapters,
      ...(gpu ? { gpuService: gpu } : {}),
    });
    this.dashboard = new GatewayDashboard(this, 'Dashboard', {
      environmentName: config.name,
      edgeLatencySloMs: thresholds.edgeLatencySloMs,
      sagemaker: target,
      adapters,
      alarms: this.alarms.alarms,
      ...(gpu ? { gpuService: gpu } : {}),
    });

    new CfnOutput(this, 'DashboardUrl', {
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.dashboard.dashboard.dashboardName}`,
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarmTopic.topic.topicArn });
  }
}
