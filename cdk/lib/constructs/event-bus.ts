/**
 * The environment's EventBridge bus for verified webhook events (the edge's `eventbridge` action):
 * a custom bus named after the environment, an archive of every gateway event so that consumers can
 * replay what they missed, and an encrypted, TLS-only SQS dead-letter queue. The queue is the bus's
 * own DLQ (events EventBridge cannot process on the bus) and the one consumers' rule targets should
 * name as theirs (`deadLetterQueue: bus.deadLetterQueue`), so undelivered events end up in one place.
 * AWS-side consumers subscribe with rules on `source` prefix `inference-gateway.webhook.` and
 * `detail-type` (the event type), and deduplicate on `detail.webhook_id`: delivery is at least once.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { eventBusName, WEBHOOK_EVENT_SOURCE_PREFIX } from '../../../shared/contracts/events';

/** Props of GatewayEventBus. */
export interface GatewayEventBusProps {
  /** Environment name: part of the bus, archive and queue names. */
  readonly environmentName: string;
  /** How long the archive keeps events for replay. @default Duration.days(30) */
  readonly archiveRetention?: Duration;
  /** How long a dead letter waits to be looked at (SQS allows 1 minute to 14 days). @default Duration.days(14) */
  readonly deadLetterRetention?: Duration;
}

/** Event bus + replay archive + dead-letter queue of one environment. */
export class GatewayEventBus extends Construct {
  public readonly bus: events.EventBus;
  public readonly archive: events.Archive;
  /** The bus's DLQ; name it as the dead-letter queue of rule targets too. */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: GatewayEventBusProps) {
    super(scope, id);
    const env = props.environmentName;
    const name = eventBusName(env);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      queueName: `${name}-dlq`,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.deadLetterRetention ?? Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself a dead-letter queue (the event bus DeadLetterConfig and rule targets); a DLQ behind it would only move the messages.',
    });

    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: name,
      description: `Verified webhook events of the ${env} inference gateway (source ${WEBHOOK_EVENT_SOURCE_PREFIX}<webhook source>)`,
      deadLetterQueue: this.deadLetterQueue,
    });
    // EventBridge sends the bus's dead letters as the events service, scoped to this bus only.
    this.deadLetterQueue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBusDeadLetters',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': this.bus.eventBusArn } },
      }),
    );

    this.archive = this.bus.archive('Archive', {
      archiveName: name,
      description: `Replay archive of the ${env} gateway's webhook events`,
      eventPattern: { source: events.Match.prefix(WEBHOOK_EVENT_SOURCE_PREFIX) },
      retention: props.archiveRetention ?? Duration.days(30),
    });
  }
}
