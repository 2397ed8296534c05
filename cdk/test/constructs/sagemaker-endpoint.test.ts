/**
 * SagemakerEndpoint: model/config/endpoint shape, least-privilege execution role, autoscaling on the
 * variant or the inference component (with the scale-from-zero step policy and alarm), grantInvoke.
 */
import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { SagemakerEndpoint } from '../../lib/constructs/sagemaker-endpoint';
import { DEFAULT_CONTAINERS } from '../../lib/model-containers';
import { actionsOf, nagFindings, statementsFor, testStack } from '../helpers';

function classic(stack: Stack = testStack()) {
  const endpoint = new SagemakerEndpoint(stack, 'Llm', {
    endpointName: 'gw-test-llm',
    container: DEFAULT_CONTAINERS.tgi,
    hfModelId: 'meta-llama/Llama-3.1-8B-Instruct',
    instanceType: 'ml.g5.2xlarge',
    minCapacity: 2,
    maxCapacity: 6,
    scalingMetric: 'concurrent-requests',
    scalingTarget: 8,
  });
  return {
    stack,
    endpoint,
    get template() {
      return Template.fromStack(stack);
    },
  };
}

function scaleToZero(stack: Stack = testStack()) {
  const endpoint = new SagemakerEndpoint(stack, 'Llm', {
    endpointName: 'gw-test-llm',
    container: DEFAULT_CONTAINERS.lmi,
    modelDataUrl: 's3://weights-bucket/llama/model.tar.gz',
    minCapacity: 0,
    maxCapacity: 3,
    scaleToZero: true,
    scalingMetric: 'invocations-per-instance',
    scalingTarget: 30,
  });
  return {
    stack,
    endpoint,
    get template() {
      return Template.fromStack(stack);
    },
  };
}

describe('SagemakerEndpoint without scale-to-zero', () => {
  it('serves the TGI image of the stack region with the hub id and GPU count in its environment', () => {
    const { template } = classic();
    template.hasResourceProperties('AWS::SageMaker::Model', {
      PrimaryContainer: {
        Image: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('^763104351884\\.dkr\\.ecr\\.')])] },
        Environment: Match.objectLike({ HF_MODEL_ID: 'meta-llama/Llama-3.1-8B-Instruct', SM_NUM_GPUS: '1' }),
      },
      EnableNetworkIsolation: false,
    });
  });

  it('runs the model as the variant on the GPU instance type with min instances', () => {
    const { template } = classic();
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [
        Match.objectLike({
          VariantName: 'AllTraffic',
          InstanceType: 'ml.g5.2xlarge',
          InitialInstanceCount: 2,
          ModelName: Match.anyValue(),
          RoutingConfig: { RoutingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
        }),
      ],
    });
    template.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'gw-test-llm' });
    template.resourceCountIs('AWS::SageMaker::InferenceComponent', 0);
  });

  it('scales the variant between min and max on high-resolution concurrent requests per model', () => {
    const { template } = classic();
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ServiceNamespace: 'sagemaker',
      ScalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      ResourceId: { 'Fn::Join': ['', ['endpoint/', { 'Fn::GetAtt': [Match.stringLikeRegexp('^LlmEndpoint'), 'EndpointName'] }, '/variant/AllTraffic']] },
      MinCapacity: 2,
      MaxCapacity: 6,
      RoleARN: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint$')])] },
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerVariantConcurrentRequestsPerModelHighResolution' },
        TargetValue: 8,
      }),
    });
    template.resourcePropertiesCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', { PolicyType: 'StepScaling' }, 0);
  });

  it('gives the execution role only image pull, logs and namespaced metrics', () => {
    const { template } = classic();
    const statements = statementsFor(template, 'LlmExecutionRole');
    expect(statements.flatMap(actionsOf).sort()).toEqual(
      [
        'cloudwatch:PutMetricData',
        'ecr:BatchCheckLayerAvailability',
        'ecr:BatchGetImage',
        'ecr:GetAuthorizationToken',
        'ecr:GetDownloadUrlForLayer',
        'logs:CreateLogGroup',
        'logs:CreateLogStream',
        'logs:DescribeLogStreams',
        'logs:PutLogEvents',
      ].sort(),
    );
    const metrics = statements.find((s) => actionsOf(s).includes('cloudwatch:PutMetricData'));
    expect(metrics?.Condition).toEqual({ StringLike: { 'cloudwatch:namespace': '/aws/sagemaker/*' } });
    template.hasResourceProperties('AWS::IAM::Role', { AssumeRolePolicyDocument: Match.objectLike({}), ManagedPolicyArns: Match.absent() });
  });

  it('rejects a variant that should scale to zero instances', () => {
    expect(() => new SagemakerEndpoint(testStack(), 'Bad', { endpointName: 'x', container: DEFAULT_CONTAINERS.tgi, hfModelId: 'a/b', minCapacity: 0 })).toThrow(
      /cannot scale to zero/,
    );
  });

  it('passes cdk-nag AwsSolutions with its acknowledgements', () => {
    const { stack } = classic();
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('SagemakerEndpoint with scale-to-zero', () => {
  it('hosts the model as an inference component on a managed-scaling variant that may reach zero instances', () => {
    const { template } = scaleToZero();
    template.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ExecutionRoleArn: Match.anyValue(),
      ProductionVariants: [
        Match.objectLike({
          ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 3 },
          ModelName: Match.absent(),
        }),
      ],
    });
    template.hasResourceProperties('AWS::SageMaker::InferenceComponent', {
      InferenceComponentName: 'gw-test-llm-model',
      VariantName: 'AllTraffic',
      Specification: Match.objectLike({ ComputeResourceRequirements: { NumberOfAcceleratorDevicesRequired: 1, MinMemoryRequiredInMb: 8192 } }),
      RuntimeConfig: { CopyCount: 1 },
    });
  });

  it('reads weights from S3 with network isolation and may read only that object', () => {
    const { template } = scaleToZero();
    template.hasResourceProperties('AWS::SageMaker::Model', {
      EnableNetworkIsolation: true,
      PrimaryContainer: Match.objectLike({
        ModelDataUrl: 's3://weights-bucket/llama/model.tar.gz',
        Environment: Match.objectLike({ HF_MODEL_ID: '/opt/ml/model' }),
      }),
    });
    const read = statementsFor(template, 'LlmExecutionRole').find((s) => actionsOf(s).includes('s3:GetObject'));
    expect(JSON.stringify(read?.Resource)).toContain(':s3:::weights-bucket/llama/model.tar.gz');
  });

  it('scales copies from 0 on invocations per copy, and out of zero with a step policy on NoCapacityInvocationFailures', () => {
    const { template } = scaleToZero();
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ScalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
      ResourceId: 'inference-component/gw-test-llm-model',
      MinCapacity: 0,
      MaxCapacity: 3,
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerInferenceComponentInvocationsPerCopy' },
        TargetValue: 30,
      }),
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'StepScaling',
      StepScalingPolicyConfiguration: {
        AdjustmentType: 'ChangeInCapacity',
        MetricAggregationType: 'Maximum',
        Cooldown: 60,
        StepAdjustments: [{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }],
      },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SageMaker',
      MetricName: 'NoCapacityInvocationFailures',
      Dimensions: [{ Name: 'InferenceComponentName', Value: 'gw-test-llm-model' }],
      Statistic: 'Maximum',
      Period: 30,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('ScaleFromZero') }],
    });
  });

  it('grants invoke on the endpoint and its component, for sync and streaming calls only', () => {
    const { stack, endpoint } = scaleToZero();
    const caller = new iam.Role(stack, 'Caller', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    endpoint.grantInvoke(caller);
    const statements = statementsFor(Template.fromStack(stack), 'Caller');
    expect(statements).toHaveLength(1);
    expect(actionsOf(statements[0]!).sort()).toEqual(['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream']);
    const resources = JSON.stringify(statements[0]!.Resource);
    expect(resources).toContain(':endpoint/gw-test-llm"');
    expect(resources).toContain(':inference-component/gw-test-llm-model"');
    expect(resources).not.toContain('*');
  });

  it('passes cdk-nag AwsSolutions with its acknowledgements', () => {
    const { stack } = scaleToZero();
    expect(nagFindings(stack)).toEqual([]);
  });
});
