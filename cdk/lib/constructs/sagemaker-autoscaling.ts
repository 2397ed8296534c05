/**
 * Application Auto Scaling for a SageMaker endpoint: a scalable target on the production variant's
 * instance count, or on an inference component's copy count, with a target-tracking policy on
 * invocations or (high-resolution) concurrent requests. With scale-to-zero, adds the step-scaling
 * policy and the `NoCapacityInvocationFailures` alarm that bring the first copy back.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { ApplicationScalingAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { SagemakerScalingMetric } from '../environments';
import { SAGEMAKER_NAMESPACE, SagemakerMetric } from '../../../shared/metrics-catalog';

/** What is being scaled. */
export type SagemakerScalingSubject =
  | { readonly kind: 'variant'; readonly endpointName: string; readonly variantName: string }
  | { readonly kind: 'inference-component'; readonly inferenceComponentName: string };

/** Props of SagemakerAutoscaling. */
export interface SagemakerAutoscalingProps {
  readonly subject: SagemakerScalingSubject;
  /** Lowest capacity; 0 only for inference components. */
  readonly minCapacity: number;
  /** Highest capacity. */
  readonly maxCapacity: number;
  /** Metric to track. @default 'concurrent-requests' */
  readonly metric?: SagemakerScalingMetric;
  /** Target value (invocations per instance/copy per minute, or concurrent requests per model/copy). @default 4 */
  readonly target?: number;
  /** Wait after scaling in before scaling in again. @default 10 minutes */
  readonly scaleInCooldown?: Duration;
  /** Wait after scaling out before scaling out again. @default 2 minutes */
  readonly scaleOutCooldown?: Duration;
}

const PREDEFINED: Record<SagemakerScalingSubject['kind'], Record<SagemakerScalingMetric, appscaling.PredefinedMetric>> = {
  variant: {
    'invocations-per-instance': appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
    'concurrent-requests': appscaling.PredefinedMetric.SAGEMAKER_VARIANT_CONCURRENT_REQUESTS_PER_MODEL_HIGH_RESOLUTION,
  },
  'inference-component': {
    'invocations-per-instance': appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
    'concurrent-requests': appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
  },
};

/** Autoscaling of one SageMaker variant or inference component. */
export class SagemakerAutoscaling extends Construct {
  /** The registered scalable target. */
  public readonly scalableTarget: appscaling.ScalableTarget;
  /** The target-tracking policy. */
  public readonly targetTracking: appscaling.TargetTrackingScalingPolicy;
  /** Scale-out-from-zero step policy (inference components with minCapacity 0 only). */
  public readonly scaleFromZero?: appscaling.StepScalingAction;
  /** Alarm on NoCapacityInvocationFailures that triggers `scaleFromZero`. */
  public readonly noCapacityAlarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: SagemakerAutoscalingProps) {
    super(scope, id);
    const { subject } = props;
    if (props.maxCapacity < 1 || props.minCapacity < 0 || props.minCapacity > props.maxCapacity) {
      throw new Error(`invalid SageMaker capacity: min ${props.minCapacity}, max ${props.maxCapacity}`);
    }
    if (subject.kind === 'variant' && props.minCapacity < 1) {
      throw new Error('a production variant cannot scale to zero instances: enable scale-to-zero (inference components)');
    }

    this.scalableTarget = new appscaling.ScalableTarget(this, 'Target', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      ...(subject.kind === 'variant'
        ? {
            resourceId: `endpoint/${subject.endpointName}/variant/${subject.variantName}`,
            scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
          }
        : {
            resourceId: `inference-component/${subject.inferenceComponentName}`,
            scalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
          }),
      minCapacity: props.minCapacity,
      maxCapacity: props.maxCapacity,
      // The service-linked role Application Auto Scaling creates for SageMaker on first use, rather
      // than a new, permission-less role of our own.
      role: iam.Role.fromRoleArn(
        this,
        'ServiceLinkedRole',
        Stack.of(this).formatArn({
          service: 'iam',
          region: '',
          resource: 'role',
          resourceName: 'aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint',
        }),
      ),
    });

    this.targetTracking = this.scalableTarget.scaleToTrackMetric('TrackLoad', {
      predefinedMetric: PREDEFINED[subject.kind][props.metric ?? 'concurrent-requests'],
      targetValue: props.target ?? 4,
      scaleInCooldown: props.scaleInCooldown ?? Duration.minutes(10),
      scaleOutCooldown: props.scaleOutCooldown ?? Duration.minutes(2),
    });

    if (subject.kind === 'inference-component' && props.minCapacity === 0) {
      // Target tracking cannot leave zero (no copy, no metric): a request that finds no capacity
      // raises NoCapacityInvocationFailures, and this step policy adds the first copy.
      this.scaleFromZero = new appscaling.StepScalingAction(this, 'ScaleFromZero', {
        scalingTarget: this.scalableTarget,
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
        cooldown: Duration.minutes(1),
      });
      this.scaleFromZero.addAdjustment({ lowerBound: 0, adjustment: 1 });
      this.noCapacityAlarm = new cloudwatch.Alarm(this, 'NoCapacityAlarm', {
        alarmDescription: `Requests found no model copy of ${subject.inferenceComponentName}: scale out from zero`,
        metric: new cloudwatch.Metric({
          namespace: SAGEMAKER_NAMESPACE,
          metricName: SagemakerMetric.NoCapacityInvocationFailures,
          dimensionsMap: { InferenceComponentName: subject.inferenceComponentName },
          statistic: 'Maximum',
          period: Duration.seconds(30),
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.MISSING,
      });
      this.noCapacityAlarm.addAlarmAction(new ApplicationScalingAction(this.scaleFromZero));
    }
  }
}
