/**
 * The gateway's alarms with the SPEC §10 defaults: p95 latency above 2x the SLO for 5 minutes (edge
 * and model), 5xx above 2% for 3 minutes (edge, SageMaker, ALB), dead-letter backlog above 100,
 * queue backlog above 3x the consumer batch, any open circuit, any NoCapacityInvocationFailures,
 * and adapter throttling. Every alarm notifies (on ALARM and on OK) through one action.
 * Missing data never alarms: an idle environment is a healthy one.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { AlarmsEnvironmentConfig } from '../environments';
import { edgeMetric, percentage, sagemakerMetric, type SagemakerMonitoringTarget } from '../gateway-metrics';
import { EdgeDimension, EdgeMetric, SagemakerMetric } from '../../../shared/metrics-catalog';

/** Alarm thresholds (see AlarmsEnvironmentConfig). */
export type AlarmThresholds = Omit<AlarmsEnvironmentConfig, 'email'>;

/** SPEC §10 defaults. */
export const DEFAULT_ALARM_THRESHOLDS: AlarmThresholds = {
  edgeLatencySloMs: 300,
  modelLatencySloMs: 200,
  errorRatePercent: 2,
  dlqThreshold: 100,
  queueBatchSize: 10,
};

/** An adapter function to watch. */
export interface MonitoredAdapter {
  readonly serviceName: string;
  readonly function: lambda.IFunction;
}

/** The ECS GPU service's load balancer to watch. */
export interface MonitoredGpuService {
  readonly targetGroup: elbv2.IApplicationTargetGroup;
}

/** Props of GatewayAlarms. */
export interface GatewayAlarmsProps {
  /** Environment name (edge metric dimension, alarm name prefix). */
  readonly environmentName: string;
  /** Where alarms notify. */
  readonly action: cloudwatch.IAlarmAction;
  /** Thresholds. @default DEFAULT_ALARM_THRESHOLDS */
  readonly thresholds?: Partial<AlarmThresholds>;
  /** SageMaker endpoint to watch. @default none */
  readonly sagemaker?: SagemakerMonitoringTarget;
  /** Adapter functions to watch for throttling. @default none */
  readonly adapters?: readonly MonitoredAdapter[];
  /** ECS GPU service to watch. @default none */
  readonly gpuService?: MonitoredGpuService;
}

/** All gateway alarms of one environment. */
export class GatewayAlarms extends Construct {
  /** Every alarm created, for the dashboard's status widget. */
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly edgeLatency: cloudwatch.Alarm;
  public readonly edgeErrorRate: cloudwatch.Alarm;
  public readonly dlqBacklog: cloudwatch.Alarm;
  public readonly queueBacklog: cloudwatch.Alarm;
  public readonly circuitOpen: cloudwatch.Alarm;
  public readonly modelLatency?: cloudwatch.Alarm;
  public readonly modelErrorRate?: cloudwatch.Alarm;
  public readonly noCapacity?: cloudwatch.Alarm;
  public readonly gpuServiceErrorRate?: cloudwatch.Alarm;

  private readonly prefix: string;
  private readonly action: cloudwatch.IAlarmAction;

  constructor(scope: Construct, id: string, props: GatewayAlarmsProps) {
    super(scope, id);
    const t: AlarmThresholds = { ...DEFAULT_ALARM_THRESHOLDS, ...props.thresholds };
    const env = props.environmentName;
    this.prefix = `inference-gateway-${env}`;
    this.action = props.action;

    this.edgeLatency = this.alarm('EdgeLatencyP95', {
      name: 'edge-latency-p95',
      description: `Edge p95 latency above 2x the ${t.edgeLatencySloMs} ms SLO for 5 minutes`,
      metric: edgeMetric(env, EdgeMetric.Latency, 'p95'),
      threshold: 2 * t.edgeLatencySloMs,
      evaluationPeriods: 5,
    });
    this.edgeErrorRate = this.alarm('EdgeErrorRate', {
      name: 'edge-5xx-rate',
      description: `More than ${t.errorRatePercent}% of edge responses were 5xx for 3 minutes`,
      metric: percentage(
        edgeMetric(env, EdgeMetric.Requests, 'Sum', { dimensions: { [EdgeDimension.StatusClass]: '5xx' } }),
        edgeMetric(env, EdgeMetric.Requests, 'Sum'),
        'edge 5xx %',
      ),
      threshold: t.errorRatePercent,
      evaluationPeriods: 3,
    });
    this.dlqBacklog = this.alarm('DlqBacklog', {
      name: 'dlq-backlog',
      description: `More than ${t.dlqThreshold} messages in the dead-letter queues`,
      metric: edgeMetric(env, EdgeMetric.DlqBacklog, 'Maximum'),
      threshold: t.dlqThreshold,
      evaluationPeriods: 1,
    });
    this.queueBacklog = this.alarm('QueueBacklog', {
      name: 'queue-backlog',
      description: `A work queue held more than 3x its batch size (${3 * t.queueBatchSize} messages) for 5 minutes`,
      metric: edgeMetric(env, EdgeMetric.QueueBacklog, 'Maximum'),
      threshold: 3 * t.queueBatchSize,
      evaluationPeriods: 5,
    });
    this.circuitOpen = this.alarm('CircuitOpen', {
      name: 'circuit-open',
      description: 'A backend circuit breaker is open at the edge',
      metric: edgeMetric(env, EdgeMetric.CircuitOpen, 'Maximum'),
      threshold: 1,
      comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
    });

    if (props.sagemaker) {
      const target = props.sagemaker;
      this.modelLatency = this.alarm('ModelLatencyP95', {
        name: 'model-latency-p95',
        description: `SageMaker p95 ModelLatency above 2x the ${t.modelLatencySloMs} ms SLO for 5 minutes`,
        // ModelLatency is reported in microseconds.
        metric: sagemakerMetric(target, SagemakerMetric.ModelLatency, 'p95'),
        threshold: 2 * t.modelLatencySloMs * 1000,
        evaluationPeriods: 5,
      });
      this.modelErrorRate = this.alarm('ModelErrorRate', {
        name: 'model-5xx-rate',
        description: `More than ${t.errorRatePercent}% of SageMaker invocations failed with 5xx for 3 minutes`,
        metric: percentage(
          sagemakerMetric(target, SagemakerMetric.Invocation5XXErrors, 'Sum'),
          sagemakerMetric(target, SagemakerMetric.Invocations, 'Sum'),
          'SageMaker 5xx %',
        ),
        threshold: t.errorRatePercent,
        evaluationPeriods: 3,
      });
      this.noCapacity = this.alarm('NoCapacity', {
        name: 'sagemaker-no-capacity',
        description: 'Requests found no SageMaker capacity (scaled to zero or warming up): clients got 503',
        metric: sagemakerMetric(target, SagemakerMetric.NoCapacityInvocationFailures, 'Sum'),
        threshold: 0,
        evaluationPeriods: 1,
      });
    }

    if (props.gpuService) {
      const { metrics } = props.gpuService.targetGroup;
      this.gpuServiceErrorRate = this.alarm('GpuServiceErrorRate', {
        name: 'ecs-5xx-rate',
        description: `More than ${t.errorRatePercent}% of GPU service responses were 5xx for 3 minutes`,
        metric: percentage(
          metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { statistic: 'Sum', period: Duration.minutes(1) }),
          metrics.requestCount({ statistic: 'Sum', period: Duration.minutes(1) }),
          'ECS 5xx %',
        ),
        threshold: t.errorRatePercent,
        evaluationPeriods: 3,
      });
    }

    for (const adapter of props.adapters ?? []) {
      this.alarm(`${adapter.serviceName}Throttles`, {
        name: `${adapter.serviceName}-throttles`,
        description: `${adapter.serviceName} hit its concurrency limit (requests were throttled)`,
        metric: adapter.function.metricThrottles({ statistic: 'Sum', period: Duration.minutes(5) }),
        threshold: 0,
        evaluationPeriods: 1,
      });
    }
  }

  private alarm(
    id: string,
    spec: {
      name: string;
      description: string;
      metric: cloudwatch.IMetric;
      threshold: number;
      evaluationPeriods: number;
      comparison?: cloudwatch.ComparisonOperator;
    },
  ): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmName: `${this.prefix}-${spec.name}`,
      alarmDescription: spec.description,
      metric: spec.metric,
      threshold: spec.threshold,
      evaluationPeriods: spec.evaluationPeriods,
      datapointsToAlarm: spec.evaluationPeriods,
      comparisonOperator: spec.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}
