/**
 * The edge Worker's AWS identity. Cloudflare Workers cannot assume an IAM role, so the edge signs
 * with the long-lived key of a dedicated IAM user that may do three things only: call the adapters'
 * Function URLs, put metrics into the edge's CloudWatch namespace, and put events on the
 * environment's event bus (`allowPutEvents`). The key lives in Secrets
 * Manager; stack outputs print the commands that copy it into the Worker's secrets, never the key.
 */
import { CfnOutput, SecretValue, Stack, Validations } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { EDGE_NAMESPACE } from '../../../shared/metrics-catalog';

/** Something whose Function URL the edge may call. */
export interface IUrlInvokable {
  grantInvokeUrl(grantee: iam.IGrantable): iam.Grant;
}

/** Props of EdgePrincipal. */
export interface EdgePrincipalProps {
  /** Environment name: the wrangler `--env` and part of the user and secret names. */
  readonly environmentName: string;
  /** Adapters the edge may call. @default none (add later with `allowInvoke`) */
  readonly adapters?: readonly IUrlInvokable[];
  /** CloudWatch namespace the edge may publish to. @default EDGE_NAMESPACE */
  readonly metricsNamespace?: string;
  /** Bump to rotate the access key (a new key is created, the old one deleted). @default 1 */
  readonly keySerial?: number;
  /** Emit the `wrangler secret put` commands as stack outputs. @default true */
  readonly printWranglerCommands?: boolean;
}

/** IAM user + access key (in Secrets Manager) for the edge Worker. */
export class EdgePrincipal extends Construct {
  public readonly user: iam.User;
  /** Secret with `{accessKeyId, secretAccessKey}`. */
  public readonly credentials: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: EdgePrincipalProps) {
    super(scope, id);
    const env = props.environmentName;
    this.user = new iam.User(this, 'User', { userName: `inference-gateway-edge-${env}` });
    this.user.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishEdgeMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': props.metricsNamespace ?? EDGE_NAMESPACE } },
      }),
    );
    for (const adapter of props.adapters ?? []) this.allowInvoke(adapter);
    Validations.of(this.user).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:PutMetricData has no resource-level permissions; the cloudwatch:namespace condition limits it to the edge namespace.',
    });

    const secretName = `inference-gateway/${env}/edge-aws-credentials`;
    const key = new iam.AccessKey(this, 'AccessKey', { user: this.user, serial: props.keySerial ?? 1 });
    this.credentials = new secretsmanager.Secret(this, 'Credentials', {
      secretName,
      description: `AWS credentials of the ${env} edge Worker (copy into wrangler secrets)`,
      secretObjectValue: {
        accessKeyId: SecretValue.unsafePlainText(key.accessKeyId),
        secretAccessKey: key.secretAccessKey,
      },
    });
    Validations.of(this.credentials).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'An IAM access key cannot be rotated by a Secrets Manager rotation Lambda here: it must also be re-copied into the Worker; rotate by bumping edgeKeySerial and re-running the printed commands (cdk/README.md).',
    });

    if (props.printWranglerCommands ?? true) {
      const region = Stack.of(this).region;
      const read = (field: string) =>
        `aws secretsmanager get-secret-value --region ${region} --secret-id ${secretName} --query SecretString --output text | node -e "process.stdin.on('data',d=>process.stdout.write(JSON.parse(d).${field}))"`;
      new CfnOutput(this, 'WranglerSecretAccessKeyId', {
        description: `Sets the ${env} edge's AWS_ACCESS_KEY_ID (reads the secret, prints nothing)`,
        value: `${read('accessKeyId')} | npx wrangler secret put AWS_ACCESS_KEY_ID --env ${env}`,
      });
      new CfnOutput(this, 'WranglerSecretSecretAccessKey', {
        description: `Sets the ${env} edge's AWS_SECRET_ACCESS_KEY (reads the secret, prints nothing)`,
        value: `${read('secretAccessKey')} | npx wrangler secret put AWS_SECRET_ACCESS_KEY --env ${env}`,
      });
      new CfnOutput(this, 'CredentialsSecretArn', { value: this.credentials.secretArn });
    }
  }

  /** Lets the edge call `adapter`'s Function URL. */
  public allowInvoke(adapter: IUrlInvokable): iam.Grant {
    return adapter.grantInvokeUrl(this.user);
  }

  /** Lets the edge put events on `bus`, and on no other bus. */
  public allowPutEvents(bus: events.IEventBus): iam.Grant {
    return bus.grantPutEventsTo(this.user);
  }
}
