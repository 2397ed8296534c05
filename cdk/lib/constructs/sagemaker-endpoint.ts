/**
 * A SageMaker real-time endpoint on GPU instances serving one LLM: execution role (least privilege),
 * model (TGI or LMI container, weights from S3 or the Hugging Face hub), endpoint config, endpoint
 * and autoscaling. With `scaleToZero` the model runs as an inference component on a managed-scaling
 * variant whose instance count may fall to zero; otherwise the model is the variant's and the
 * variant's instance count scales between min and max.
 */
import { ArnFormat, Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import type { SagemakerScalingMetric } from '../environments';
import { containerEnvironment, parseS3Url, type ModelContainer, type ModelSource } from '../model-containers';
import { acknowledgeWildcardResources } from '../nag';
import { SagemakerAutoscaling } from './sagemaker-autoscaling';

/** Props of SagemakerEndpoint (the weights: `hfModelId` or `modelDataUrl`). */
export interface SagemakerEndpointProps extends ModelSource {
  /** Endpoint name (unique per account and region: include the environment). */
  readonly endpointName: string;
  /** Serving container (image, family, adapter format). */
  readonly container: ModelContainer;
  /** GPU instance type. @default 'ml.g5.xlarge' */
  readonly instanceType?: string;
  /** GPUs per instance (tensor parallel degree; accelerators per inference component). @default 1 */
  readonly gpusPerInstance?: number;
  /** Lowest capacity: instances, or model copies with scale-to-zero. @default 1 */
  readonly minCapacity?: number;
  /** Highest capacity: instances, or model copies with scale-to-zero. @default 2 */
  readonly maxCapacity?: number;
  /** Run the model as an inference component that may scale to zero copies and instances. @default false */
  readonly scaleToZero?: boolean;
  /** Autoscaling metric. @default 'concurrent-requests' */
  readonly scalingMetric?: SagemakerScalingMetric;
  /** Autoscaling target value. @default 4 */
  readonly scalingTarget?: number;
  /** Host memory reserved per inference component copy, MiB. @default 8192 */
  readonly memoryPerCopyMb?: number;
  /** Time allowed to download the weights and pass the first health check. @default 15 minutes */
  readonly startupTimeout?: Duration;
  /** Extra container environment, merged over the defaults of the container family. @default none */
  readonly environment?: Readonly<Record<string, string>>;
}

/** Production variant name (one variant per endpoint). */
export const VARIANT_NAME = 'AllTraffic';

/** A GPU-backed SageMaker real-time endpoint with autoscaling. */
export class SagemakerEndpoint extends Construct {
  /** The endpoint's name. */
  public readonly endpointName: string;
  /** The endpoint's ARN. */
  public readonly endpointArn: string;
  /** The production variant's name. */
  public readonly variantName = VARIANT_NAME;
  /** The inference component's name when scale-to-zero is on. */
  public readonly inferenceComponentName?: string;
  /** Role SageMaker assumes to pull the image and weights and to write logs. */
  public readonly role: iam.Role;
  public readonly model: sagemaker.CfnModel;
  public readonly endpointConfig: sagemaker.CfnEndpointConfig;
  public readonly endpoint: sagemaker.CfnEndpoint;
  public readonly inferenceComponent?: sagemaker.CfnInferenceComponent;
  public readonly autoscaling: SagemakerAutoscaling;
  /** Container family and the adapter format to speak to it. */
  public readonly container: ModelContainer;

  constructor(scope: Construct, id: string, props: SagemakerEndpointProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const gpus = props.gpusPerInstance ?? 1;
    const minCapacity = props.minCapacity ?? 1;
    const maxCapacity = props.maxCapacity ?? 2;
    const scaleToZero = props.scaleToZero ?? false;
    const startupSeconds = (props.startupTimeout ?? Duration.minutes(15)).toSeconds();
    const { image } = props.container;
    this.container = props.container;
    this.endpointName = props.endpointName;
    this.endpointArn = stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: props.endpointName.toLowerCase() });

    this.role = new iam.Role(this, 'ExecutionRole', {
      assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
      description: `SageMaker execution role of endpoint ${props.endpointName}`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PullServingImage',
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
        resources: [`arn:${Aws.PARTITION}:ecr:${Aws.REGION}:${image.account}:repository/${image.repository}`],
      }),
    );
    this.role.addToPolicy(new iam.PolicyStatement({ sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    const logGroupArn = stack.formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `/aws/sagemaker/*/${props.endpointName}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteEndpointLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [logGroupArn, `${logGroupArn}:log-stream:*`],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PublishEndpointMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringLike: { 'cloudwatch:namespace': '/aws/sagemaker/*' } },
      }),
    );
    let modelDataObjects: string | undefined;
    if (props.modelDataUrl) {
      const { bucket, key } = parseS3Url(props.modelDataUrl);
      modelDataObjects = `arn:${Aws.PARTITION}:s3:::${bucket}/${key.endsWith('/') ? `${key}*` : key}`;
      this.role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadModelData', actions: ['s3:GetObject'], resources: [modelDataObjects] }));
      if (key.endsWith('/')) {
        this.role.addToPolicy(
          new iam.PolicyStatement({
            sid: 'ListModelData',
            actions: ['s3:ListBucket'],
            resources: [`arn:${Aws.PARTITION}:s3:::${bucket}`],
            conditions: { StringLike: { 's3:prefix': `${key}*` } },
          }),
        );
      }
    }
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken has no resource-level permissions; cloudwatch:PutMetricData is limited by a namespace condition.',
    });
    acknowledgeWildcardResources(
      this.role,
      [logGroupArn, `${logGroupArn}:log-stream:*`],
      'SageMaker names the log group per variant or component under /aws/sagemaker/ and the streams per instance; both are bounded by this endpoint name.',
    );
    if (modelDataObjects?.endsWith('*')) {
      acknowledgeWildcardResources(
        this.role,
        [modelDataObjects],
        'Uncompressed model data is a prefix of many weight files; reads are limited to that prefix.',
      );
    }

    this.model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      primaryContainer: {
        image: `${image.account}.dkr.ecr.${Aws.REGION}.${Aws.URL_SUFFIX}/${image.repository}:${image.tag}`,
        environment: { ...containerEnvironment(props.container.kind, props, gpus), ...props.environment },
        ...(props.modelDataUrl
          ? props.modelDataUrl.endsWith('/')
            ? { modelDataSource: { s3DataSource: { s3Uri: props.modelDataUrl, s3DataType: 'S3Prefix', compressionType: 'None' } } }
            : { modelDataUrl: props.modelDataUrl }
          : {}),
      },
      // With weights from S3 the container needs no network at all; a hub id must be downloaded.
      enableNetworkIsolation: Boolean(props.modelDataUrl),
    });
    this.model.node.addDependency(this.role);

    const variant: sagemaker.CfnEndpointConfig.ProductionVariantProperty = {
      variantName: VARIANT_NAME,
      instanceType: props.instanceType ?? 'ml.g5.xlarge',
      containerStartupHealthCheckTimeoutInSeconds: startupSeconds,
      modelDataDownloadTimeoutInSeconds: startupSeconds,
      routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
    };
    // No KmsKeyId: the GPU instance types (g5, g6, p4, p5) use local NVMe instance storage, which
    // SageMaker encrypts with a hardware key and which rejects a KMS key for the storage volume.
    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: [
        scaleToZero
          ? {
              ...variant,
              initialInstanceCount: 1,
              managedInstanceScaling: { status: 'ENABLED', minInstanceCount: 0, maxInstanceCount: maxCapacity },
            }
          : { ...variant, modelName: this.model.attrModelName, initialInstanceCount: minCapacity, initialVariantWeight: 1 },
      ],
      ...(scaleToZero ? { executionRoleArn: this.role.roleArn } : {}),
    });

    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', {
      endpointName: props.endpointName,
      endpointConfigName: this.endpointConfig.attrEndpointConfigName,
    });

    if (scaleToZero) {
      this.inferenceComponentName = `${props.endpointName}-model`;
      this.inferenceComponent = new sagemaker.CfnInferenceComponent(this, 'InferenceComponent', {
        inferenceComponentName: this.inferenceComponentName,
        endpointName: this.endpoint.attrEndpointName,
        variantName: VARIANT_NAME,
        specification: {
          modelName: this.model.attrModelName,
          computeResourceRequirements: {
            numberOfAcceleratorDevicesRequired: gpus,
            minMemoryRequiredInMb: props.memoryPerCopyMb ?? 8192,
          },
          startupParameters: {
            containerStartupHealthCheckTimeoutInSeconds: startupSeconds,
            modelDataDownloadTimeoutInSeconds: startupSeconds,
          },
        },
        runtimeConfig: { copyCount: Math.max(minCapacity, 1) },
      });
    }

    this.autoscaling = new SagemakerAutoscaling(this, 'Autoscaling', {
      subject: this.inferenceComponent
        ? { kind: 'inference-component', inferenceComponentName: this.inferenceComponentName ?? '' }
        : { kind: 'variant', endpointName: this.endpoint.attrEndpointName, variantName: VARIANT_NAME },
      minCapacity,
      maxCapacity,
      ...(props.scalingMetric ? { metric: props.scalingMetric } : {}),
      ...(props.scalingTarget !== undefined ? { target: props.scalingTarget } : {}),
    });
    this.autoscaling.node.addDependency(this.inferenceComponent ?? this.endpoint);
  }

  /**
   * Lets `grantee` run inferences on this endpoint (sync and streaming) and nothing else:
   * `sagemaker:InvokeEndpoint` and `sagemaker:InvokeEndpointWithResponseStream` on its ARN (and on
   * its inference component's ARN).
   */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    const resources = [this.endpointArn];
    if (this.inferenceComponentName) {
      resources.push(
        Stack.of(this).formatArn({ service: 'sagemaker', resource: 'inference-component', resourceName: this.inferenceComponentName.toLowerCase() }),
      );
    }
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream'],
      resourceArns: resources,
    });
  }
}
