/**
 * The SNS topic alarms notify: encrypted with a customer-managed KMS key (CloudWatch cannot publish
 * to a topic encrypted with the AWS-managed SNS key), a topic policy that denies anything but TLS,
 * and optional e-mail subscriptions.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** Props of AlarmTopic. */
export interface AlarmTopicProps {
  /** Environment name, part of the topic name. */
  readonly environmentName: string;
  /** E-mail addresses to subscribe (each must confirm). @default none */
  readonly emails?: readonly string[];
}

/** Encrypted, TLS-only SNS topic for alarm notifications. */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.Key;
  /** Alarm action that publishes to the topic. */
  public readonly action: cloudwatch.IAlarmAction;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: `Encrypts the ${props.environmentName} inference gateway alarm topic`,
      enableKeyRotation: true,
      // Notifications are transient: nothing to decrypt once the topic is gone.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new sns.Topic(this, 'Topic', {
      topicName: `inference-gateway-${props.environmentName}-alarms`,
      displayName: `Inference gateway ${props.environmentName} alarms`,
      masterKey: this.key,
      enforceSSL: true,
    });
    for (const email of props.emails ?? []) this.topic.addSubscription(new subscriptions.EmailSubscription(email));
    this.action = new actions.SnsAction(this.topic);
  }
}
