/**
 * The ECS GPU alternative to SageMaker: a VPC with flow logs, an ECS cluster whose capacity provider
 * is an Auto Scaling group of GPU instances (ECS GPU-optimised AMI resolved from its public SSM
 * parameter at deploy time), a vLLM task with a GPU, and a service behind an internal ALB that
 * scales on requests per target. Only what `allowInvokeFrom` admits may reach the ALB.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

/** Props of GpuService. */
export interface GpuServiceProps {
  /** Public model name vLLM serves (`--served-model-name`). */
  readonly modelName: string;
  /** Hugging Face hub id vLLM loads. */
  readonly hfModelId: string;
  /** Serving image. @default Docker Hub `vllm/vllm-openai:v0.11.0` */
  readonly image?: ecs.ContainerImage;
  /** GPU instance type. @default 'g5.xlarge' */
  readonly instanceType?: string;
  /** GPUs per task. @default 1 */
  readonly gpusPerTask?: number;
  /** Memory reserved for the container, MiB (fit it to the instance type). @default 12288 */
  readonly memoryReservationMiB?: number;
  /** Lowest task count. @default 1 */
  readonly minCapacity?: number;
  /** Highest task count (the instance group may reach twice this during a deployment). @default 2 */
  readonly maxCapacity?: number;
  /** ALB requests per target per minute to scale on. @default 120 */
  readonly requestsPerTarget?: number;
  /** NAT gateways. @default 1 */
  readonly natGateways?: number;
  /** Root EBS volume size, GiB (image layers and weights). @default 200 */
  readonly rootVolumeGiB?: number;
  /** Retention of task logs and VPC flow logs. @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** Secret holding a Hugging Face token for gated models (injected as HF_TOKEN). @default none */
  readonly hfTokenSecret?: secretsmanager.ISecret;
  /** Topic told about every instance launch, termination and failure. @default none */
  readonly notificationsTopic?: sns.ITopic;
}

/** Port vLLM listens on inside the task. */
const CONTAINER_PORT = 8000;
/** Port the internal ALB listens on. */
export const GPU_SERVICE_LISTENER_PORT = 80;

/** An OpenAI-compatible model server on ECS GPU instances behind an internal ALB. */
export class GpuService extends Construct {
  public readonly vpc: ec2.Vpc;
  public readonly cluster: ecs.Cluster;
  public readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  public readonly capacityProvider: ecs.AsgCapacityProvider;
  public readonly taskDefinition: ecs.Ec2TaskDefinition;
  public readonly service: ecs.Ec2Service;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly targetGroup: elbv2.ApplicationTargetGroup;
  /** Origin of the model server inside the VPC, e.g. `http://internal-...elb.amazonaws.com` (OpenAI API under `/v1`). */
  public readonly url: string;
  /** Public model name served. */
  public readonly modelName: string;

  constructor(scope: Construct, id: string, props: GpuServiceProps) {
    super(scope, id);
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const minCapacity = props.minCapacity ?? 1;
    const maxCapacity = props.maxCapacity ?? 2;
    this.modelName = props.modelName;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: props.natGateways ?? 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogGroup', { retention, removalPolicy: RemovalPolicy.DESTROY })),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.cluster = new ecs.Cluster(this, 'Cluster', { vpc: this.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });

    const instanceSg = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', { vpc: this.vpc, description: 'GPU container instances' });
    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'GpuInstances', {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      instanceType: new ec2.InstanceType(props.instanceType ?? 'g5.xlarge'),
      // The public SSM parameter is read by CloudFormation at deploy time: no synth-time lookup.
      machineImage: ecs.EcsOptimizedImage.amazonLinux2023(ecs.AmiHardwareType.GPU),
      securityGroup: instanceSg,
      requireImdsv2: true,
      minCapacity: 0,
      // Room for a rolling deployment at full scale (new tasks start before old ones stop: 200%).
      maxCapacity: 2 * maxCapacity,
      ...(props.notificationsTopic ? { notifications: [{ topic: props.notificationsTopic }] } : {}),
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: autoscaling.BlockDeviceVolume.ebs(props.rootVolumeGiB ?? 200, {
            encrypted: true,
            volumeType: autoscaling.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });
    if (!props.notificationsTopic) {
      Validations.of(this.autoScalingGroup).acknowledge({
        id: 'AwsSolutions-AS3',
        reason: 'No notifications topic was given; the ECS capacity provider drives this group and reports capacity problems as service events.',
      });
    }
    Validations.of(this.autoScalingGroup).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Action::ecs:Submit*]',
        reason: 'The ECS agent permissions CDK grants to container instances, limited to this cluster.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ECS agent actions without resource-level permissions (DiscoverPollEndpoint, GetAuthorizationToken; Poll is conditioned on this cluster).',
      },
    );
    this.capacityProvider = new ecs.AsgCapacityProvider(this, 'CapacityProvider', {
      autoScalingGroup: this.autoScalingGroup,
      enableManagedScaling: true,
      enableManagedTerminationProtection: true,
      targetCapacityPercent: 100,
    });
    this.cluster.addAsgCapacityProvider(this.capacityProvider);

    this.taskDefinition = new ecs.Ec2TaskDefinition(this, 'Task', { networkMode: ecs.NetworkMode.AWS_VPC });
    this.taskDefinition.addContainer('vllm', {
      image: props.image ?? ecs.ContainerImage.fromRegistry('vllm/vllm-openai:v0.11.0'),
      // Everything the server needs is in its arguments: no plain environment variables.
      command: ['--model', props.hfModelId, '--served-model-name', props.modelName, '--port', String(CONTAINER_PORT)],
      gpuCount: props.gpusPerTask ?? 1,
      memoryReservationMiB: props.memoryReservationMiB ?? 12288,
      portMappings: [{ containerPort: CONTAINER_PORT, protocol: ecs.Protocol.TCP }],
      linuxParameters: new ecs.LinuxParameters(this, 'LinuxParameters', { sharedMemorySize: 2048, initProcessEnabled: true }),
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'vllm',
        logGroup: new logs.LogGroup(this, 'TaskLogGroup', { retention, removalPolicy: RemovalPolicy.DESTROY }),
      }),
      ...(props.hfTokenSecret ? { secrets: { HF_TOKEN: ecs.Secret.fromSecretsManager(props.hfTokenSecret) } } : {}),
    });

    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The only plain variable is AWS_REGION, which CDK adds; the model arguments are in the command and the HF token comes from Secrets Manager.',
    });

    this.service = new ecs.Ec2Service(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      desiredCount: minCapacity,
      capacityProviderStrategies: [{ capacityProvider: this.capacityProvider.capacityProviderName, weight: 1 }],
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      // Loading weights onto the GPU takes minutes; the ALB must not kill a task that is still warming.
      healthCheckGracePeriod: Duration.minutes(15),
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    });

    const albSg = new ec2.SecurityGroup(this, 'LoadBalancerSecurityGroup', {
      vpc: this.vpc,
      description: 'Internal ALB of the GPU service: only the adapters may connect',
      allowAllOutbound: false,
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: this.vpc,
      internetFacing: false,
      securityGroup: albSg,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      dropInvalidHeaderFields: true,
    });
    this.loadBalancer.logAccessLogs(this.createAccessLogBucket(), 'alb');
    const listener = this.loadBalancer.addListener('Http', { port: GPU_SERVICE_LISTENER_PORT, protocol: elbv2.ApplicationProtocol.HTTP, open: false });
    this.targetGroup = listener.addTargets('Vllm', {
      port: CONTAINER_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [this.service],
      deregistrationDelay: Duration.seconds(30),
      healthCheck: {
        path: '/health',
        healthyHttpCodes: '200',
        interval: Duration.seconds(30),
        timeout: Duration.seconds(10),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 5,
      },
    });
    Validations.of(this.loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason: 'Access logging is enabled through logAccessLogs (attribute set after construction).',
    });

    this.service.autoScaleTaskCount({ minCapacity, maxCapacity }).scaleOnRequestCount('RequestsPerTarget', {
      requestsPerTarget: props.requestsPerTarget ?? 120,
      targetGroup: this.targetGroup,
      scaleInCooldown: Duration.minutes(10),
      scaleOutCooldown: Duration.minutes(2),
    });

    this.url = `http://${this.loadBalancer.loadBalancerDnsName}`;
  }

  /**
   * Opens the internal ALB's listener to `other` (e.g. the ECS adapter function) and to nothing else.
   * The rules are created on `other`'s side (its egress, the ALB's ingress as a remote rule), so a
   * client in another stack does not make this stack depend on it.
   */
  public allowInvokeFrom(other: ec2.IConnectable): void {
    other.connections.allowTo(this.loadBalancer, ec2.Port.tcp(GPU_SERVICE_LISTENER_PORT), 'adapter to GPU service ALB');
  }

  private createAccessLogBucket(): s3.Bucket {
    const bucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the access-log sink of the ALB; logging its own access would only log the log writes.',
    });
    return bucket;
  }
}
