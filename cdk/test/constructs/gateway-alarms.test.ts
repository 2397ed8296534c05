/**
 * GatewayAlarms + AlarmTopic: each alarm's metric, threshold and duration (SPEC §10 defaults), all
 * notifying an encrypted, TLS-only topic.
 */
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AdapterFunction } from '../../lib/constructs/adapter-function';
import { AlarmTopic } from '../../lib/constructs/alarm-topic';
import { GatewayAlarms } from '../../lib/constructs/gateway-alarms';
import { GpuService } from '../../lib/constructs/gpu-service';
import { nagFindings, REPO_ROOT, testStack } from '../helpers';

describe('GatewayAlarms', () => {
  const stack = testStack();
  const topic = new AlarmTopic(stack, 'Topic', { environmentName: 'prod', emails: ['oncall@example.com'] });
  const adapter = new AdapterFunction(stack, 'Adapter', {
    entry: join(REPO_ROOT, 'backend/handlers/sagemaker.ts'),
    projectRoot: REPO_ROOT,
    serviceName: 'sagemaker-adapter',
    environmentName: 'prod',
  });
  const gpu = new GpuService(stack, 'Gpu', { modelName: 'm', hfModelId: 'a/b' });
  const alarms = new GatewayAlarms(stack, 'Alarms', {
    environmentName: 'prod',
    action: topic.action,
    sagemaker: { endpointName: 'gw-prod-llm', variantName: 'AllTraffic', inferenceComponentName: 'gw-prod-llm-model' },
    adapters: [{ serviceName: 'sagemaker-adapter', function: adapter.function }],
    gpuService: { targetGroup: gpu.targetGroup },
  });
  const template = Template.fromStack(stack);
  const byName = (suffix: string) => {
    const found = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find(
      (a) => (a.Properties as { AlarmName?: string }).AlarmName === `inference-gateway-prod-${suffix}`,
    );
    if (!found) throw new Error(`no alarm ${suffix}`);
    return found.Properties as Record<string, unknown>;
  };

  it('fires on edge p95 latency above 2x the 300 ms SLO for 5 minutes', () => {
    expect(byName('edge-latency-p95')).toMatchObject({
      Namespace: 'InferenceGateway/Edge',
      MetricName: 'Latency',
      ExtendedStatistic: 'p95',
      Dimensions: [{ Name: 'Environment', Value: 'prod' }],
      Period: 60,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      Threshold: 600,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('fires on more than 2% edge 5xx for 3 minutes', () => {
    const alarm = byName('edge-5xx-rate');
    expect(alarm).toMatchObject({ Threshold: 2, EvaluationPeriods: 3, DatapointsToAlarm: 3, ComparisonOperator: 'GreaterThanThreshold' });
    const json = JSON.stringify(alarm.Metrics);
    expect(json).toContain('100 * FILL(part, 0) / whole');
    expect(json).toContain('"Name":"StatusClass","Value":"5xx"');
  });

  it('fires on more than 100 dead letters and on a queue backlog above 3x the batch size', () => {
    expect(byName('dlq-backlog')).toMatchObject({ MetricName: 'DlqBacklog', Statistic: 'Maximum', Threshold: 100 });
    expect(byName('queue-backlog')).toMatchObject({ MetricName: 'QueueBacklog', Statistic: 'Maximum', Threshold: 30, EvaluationPeriods: 5 });
  });

  it('fires as soon as a circuit is open', () => {
    expect(byName('circuit-open')).toMatchObject({
      MetricName: 'CircuitOpen',
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
  });

  it('fires on any NoCapacityInvocationFailures of the inference component', () => {
    expect(byName('sagemaker-no-capacity')).toMatchObject({
      Namespace: 'AWS/SageMaker',
      MetricName: 'NoCapacityInvocationFailures',
      Dimensions: [{ Name: 'InferenceComponentName', Value: 'gw-prod-llm-model' }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('fires on model p95 latency above 2x its SLO (in microseconds) and on SageMaker and ALB 5xx above 2%', () => {
    expect(byName('model-latency-p95')).toMatchObject({ MetricName: 'ModelLatency', ExtendedStatistic: 'p95', Threshold: 400_000, EvaluationPeriods: 5 });
    expect(JSON.stringify(byName('model-5xx-rate').Metrics)).toContain('Invocation5XXErrors');
    expect(byName('model-5xx-rate')).toMatchObject({ Threshold: 2, EvaluationPeriods: 3 });
    expect(JSON.stringify(byName('ecs-5xx-rate').Metrics)).toContain('HTTPCode_Target_5XX_Count');
    expect(byName('sagemaker-adapter-throttles')).toMatchObject({ MetricName: 'Throttles', Threshold: 0 });
  });

  it('notifies the topic on alarm and on recovery', () => {
    expect(alarms.alarms).toHaveLength(10);
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      const p = alarm.Properties as { AlarmActions: unknown[]; OKActions: unknown[] };
      expect(p.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic[0-9A-F]{8}$/) }]);
      expect(p.OKActions).toEqual(p.AlarmActions);
    }
  });

  it('publishes to a topic encrypted with a rotating customer key CloudWatch may use, over TLS only', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { TopicName: 'inference-gateway-prod-alarms', KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] })]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('passes cdk-nag AwsSolutions', () => {
    expect(nagFindings(stack)).toEqual([]);
  });
});
