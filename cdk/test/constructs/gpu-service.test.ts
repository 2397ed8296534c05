/**
 * GpuService: GPU AMI from SSM at deploy time (no lookups), encrypted volumes, IMDSv2, a GPU task,
 * internal ALB with health checks and access logs, flow logs, request-count autoscaling, and an
 * ALB that admits only what `allowInvokeFrom` names.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { describe, expect, it } from 'vitest';
import { GpuService } from '../../lib/constructs/gpu-service';
import { nagFindings, testApp, testStack } from '../helpers';

function setup() {
  const app = testApp();
  const stack = testStack(app);
  const service = new GpuService(stack, 'Gpu', {
    modelName: 'qwen2.5-7b-instruct',
    hfModelId: 'Qwen/Qwen2.5-7B-Instruct',
    instanceType: 'g5.2xlarge',
    minCapacity: 2,
    maxCapacity: 5,
    requestsPerTarget: 90,
  });
  const client = new ec2.SecurityGroup(stack, 'Client', { vpc: service.vpc });
  service.allowInvokeFrom(client);
  return { app, stack, service, template: Template.fromStack(stack) };
}

describe('GpuService', () => {
  const { app, stack, template } = setup();

  it('launches GPU instances from the ECS GPU-optimised AMI parameter, resolved at deploy time', () => {
    const parameters = Object.values(template.toJSON().Parameters as Record<string, { Type: string; Default: string }>);
    expect(parameters).toContainEqual(
      expect.objectContaining({
        Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
        Default: '/aws/service/ecs/optimized-ami/amazon-linux-2023/gpu/recommended/image_id',
      }),
    );
    expect(app.synth().manifest.missing ?? []).toEqual([]);
  });

  it('requires IMDSv2 and encrypts the gp3 root volume', () => {
    template.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        InstanceType: 'g5.2xlarge',
        MetadataOptions: Match.objectLike({ HttpTokens: 'required' }),
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: Match.objectLike({ Encrypted: true, VolumeType: 'gp3', VolumeSize: 200 }) }],
      }),
    });
  });

  it('scales the instances through a managed capacity provider', () => {
    template.hasResourceProperties('AWS::ECS::CapacityProvider', {
      AutoScalingGroupProvider: Match.objectLike({
        ManagedScaling: Match.objectLike({ Status: 'ENABLED', TargetCapacity: 100 }),
        ManagedTerminationProtection: 'ENABLED',
      }),
    });
    template.hasResourceProperties('AWS::ECS::Cluster', { ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }] });
  });

  it('runs vLLM with one GPU and no plain-text secrets', () => {
    template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      NetworkMode: 'awsvpc',
      ContainerDefinitions: [
        Match.objectLike({
          Image: Match.stringLikeRegexp('^vllm/vllm-openai:'),
          Command: Match.arrayWith(['--model', 'Qwen/Qwen2.5-7B-Instruct', '--served-model-name', 'qwen2.5-7b-instruct']),
          ResourceRequirements: [{ Type: 'GPU', Value: '1' }],
          LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
        }),
      ],
    });
  });

  it('sits behind an internal ALB with a health check and access logs', () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', {
      Scheme: 'internal',
      LoadBalancerAttributes: Match.arrayWith([{ Key: 'access_logs.s3.enabled', Value: 'true' }]),
    });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 80, Protocol: 'HTTP' });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetType: 'ip',
      Port: 8000,
      HealthCheckPath: '/health',
      Matcher: { HttpCode: '200' },
    });
    template.hasResourceProperties('AWS::ECS::Service', { HealthCheckGracePeriodSeconds: 900 });
  });

  it('lets only the named client reach the ALB listener', () => {
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).map((r) => r.Properties as Record<string, unknown>);
    const toAlb = ingress.filter((r) => JSON.stringify(r.GroupId).includes('LoadBalancerSecurityGroup'));
    expect(toAlb).toHaveLength(1);
    expect(toAlb[0]).toMatchObject({ FromPort: 80, ToPort: 80, SourceSecurityGroupId: { 'Fn::GetAtt': [expect.stringMatching(/^Client/), 'GroupId'] } });
    const albGroups = Object.values(template.findResources('AWS::EC2::SecurityGroup')).filter((g) =>
      JSON.stringify(g).includes('Internal ALB of the GPU service'),
    );
    expect(JSON.stringify(albGroups)).not.toContain('0.0.0.0/0');
  });

  it('scales the service on ALB requests per target between min and max', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ServiceNamespace: 'ecs',
      ScalableDimension: 'ecs:service:DesiredCount',
      MinCapacity: 2,
      MaxCapacity: 5,
    });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: Match.objectLike({ PredefinedMetricType: 'ALBRequestCountPerTarget' }),
        TargetValue: 90,
      }),
    });
  });

  it('records VPC flow logs', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
  });

  it('passes cdk-nag AwsSolutions with its acknowledgements', () => {
    expect(nagFindings(stack)).toEqual([]);
  });
});
