/**
 * GatewayEventBus and the edge's grant on it: a bus per environment with a replay archive of the
 * gateway's events and an encrypted, TLS-only DLQ that EventBridge may write to (for the bus and for
 * a consumer's rule target); the edge principal may `events:PutEvents` on that bus's ARN only; the
 * adapters stack outputs the bus for the edge config; cdk-nag passes with its one acknowledgement.
 */
import { Duration, Stage } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { WEBHOOK_EVENT_SOURCE_PREFIX } from '../../../shared/contracts/events';
import { EdgePrincipal } from '../../lib/constructs/edge-principal';
import { GatewayEventBus } from '../../lib/constructs/event-bus';
import { ENVIRONMENTS } from '../../lib/environments';
import { addGatewayStacks } from '../../lib/gateway-stage';
import { actionsOf, nagFindings, REPO_ROOT, statementsFor, testApp, testStack } from '../helpers';

type QueuePolicy = { Properties: { PolicyDocument: { Statement: { Effect: string; Principal?: unknown; Action: unknown; Condition?: unknown }[] } } };

describe('GatewayEventBus', () => {
  const stack = testStack();
  const bus = new GatewayEventBus(stack, 'Events', { environmentName: 'staging', archiveRetention: Duration.days(45) });
  const edge = new EdgePrincipal(stack, 'Edge', { environmentName: 'staging' });
  edge.allowPutEvents(bus.bus);
  // A consumer's rule on the bus, with the gateway's DLQ as its target's dead-letter queue.
  const consumer = new sqs.Queue(stack, 'ConsumerQueue', { enforceSSL: true, deadLetterQueue: { queue: bus.deadLetterQueue, maxReceiveCount: 5 } });
  new events.Rule(stack, 'ConsumerRule', {
    eventBus: bus.bus,
    eventPattern: { source: [`${WEBHOOK_EVENT_SOURCE_PREFIX}stripe`], detailType: ['invoice.paid'] },
    targets: [new targets.SqsQueue(consumer, { deadLetterQueue: bus.deadLetterQueue, retryAttempts: 8 })],
  });
  const template = Template.fromStack(stack);
  const busId = Object.keys(template.findResources('AWS::Events::EventBus'))[0]!;
  const dlqId = Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { QueueName: 'inference-gateway-staging-events-dlq' } }))[0]!;

  it('declares the environment bus with the DLQ as its dead-letter config', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::EventBus', {
      Name: 'inference-gateway-staging-events',
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
    });
  });

  it('archives every gateway event on it for replay, for the configured retention', () => {
    template.resourceCountIs('AWS::Events::Archive', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      ArchiveName: 'inference-gateway-staging-events',
      SourceArn: { 'Fn::GetAtt': [busId, 'Arn'] },
      RetentionDays: 45,
      EventPattern: { source: [{ prefix: WEBHOOK_EVENT_SOURCE_PREFIX }] },
    });
  });

  it('keeps dead letters encrypted for 14 days, TLS only, writable by EventBridge for this bus and the rule', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'inference-gateway-staging-events-dlq',
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 86_400,
    });
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as QueuePolicy[];
    const statements = policies
      .filter((p) => JSON.stringify(p).includes(dlqId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s) => JSON.stringify(s.Action).includes('sqs:SendMessage'));
    const fromEvents = statements.filter((s) => s.Effect === 'Allow' && JSON.stringify(s.Principal).includes('events.amazonaws.com'));
    expect(fromEvents.map((s) => s.Condition)).toEqual(
      expect.arrayContaining([
        { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [busId, 'Arn'] } } },
        { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [expect.stringMatching(/^ConsumerRule/), 'Arn'] } } },
      ]),
    );
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [Match.objectLike({ DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } }, RetryPolicy: { MaximumRetryAttempts: 8 } })],
    });
  });

  it('lets the edge put events on this bus only: the grant names its ARN, never *', () => {
    const put = statementsFor(template, 'EdgeUser').filter((s) => actionsOf(s).some((a) => a.startsWith('events:')));
    expect(put).toHaveLength(1);
    expect(actionsOf(put[0]!)).toEqual(['events:PutEvents']);
    expect(put[0]!.Resource).toEqual({ 'Fn::GetAtt': [busId, 'Arn'] });
    expect(put[0]!.Condition).toBeUndefined();
  });

  it('passes cdk-nag AwsSolutions with its acknowledgements', () => {
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('the dev adapters stack', () => {
  const stacks = addGatewayStacks(new Stage(testApp(), 'dev'), { config: ENVIRONMENTS.dev, repoRoot: REPO_ROOT });
  const template = Template.fromStack(stacks.adapters);
  const busId = Object.keys(template.findResources('AWS::Events::EventBus'))[0];
  const dlqId = Object.keys(template.findResources('AWS::SQS::Queue', { Properties: { QueueName: 'inference-gateway-dev-events-dlq' } }))[0];

  it('declares the dev bus with the environment archive retention, granted to the edge user', () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'inference-gateway-dev-events' });
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: ENVIRONMENTS.dev.events.archiveRetentionDays });
    const put = statementsFor(template, 'EdgePrincipalUser').filter((s) => actionsOf(s).includes('events:PutEvents'));
    expect(put.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [busId, 'Arn'] }]);
  });

  it('outputs the bus name and ARN for the edge config, and the DLQ URL', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(busId && dlqId).toBeTruthy();
    expect(outputs.EdgeEventBusName?.Value).toEqual({ Ref: busId });
    expect(outputs.EdgeEventBusArn?.Value).toEqual({ 'Fn::GetAtt': [busId, 'Arn'] });
    expect(outputs.EventDeadLetterQueueUrl?.Value).toEqual({ Ref: dlqId });
  });

  it('passes cdk-nag with the bus in it', () => {
    expect(nagFindings(stacks.adapters)).toEqual([]);
  });
});
