/**
 * AdapterFunction: Node.js 22 on arm64, Function URL with AWS_IAM auth and RESPONSE_STREAM, its own
 * log group with retention, reserved concurrency, a role limited to its logs (and traces), the
 * adapter's environment, and grantInvokeUrl's two statements.
 */
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { AdapterFunction } from '../../lib/constructs/adapter-function';
import { actionsOf, nagFindings, REPO_ROOT, statementsFor, testStack } from '../helpers';

const entry = join(REPO_ROOT, 'backend/handlers/sagemaker.ts');

function setup(vpc = false) {
  const stack = testStack();
  const adapter = new AdapterFunction(stack, 'Adapter', {
    entry,
    projectRoot: REPO_ROOT,
    serviceName: 'sagemaker-adapter',
    environmentName: 'test',
    functionName: 'gw-test-sagemaker-adapter',
    environment: { SAGEMAKER_MODELS: '{"m":{"endpointName":"e","format":"tgi"}}' },
    timeout: Duration.seconds(60),
    reservedConcurrency: 25,
    logRetention: logs.RetentionDays.TWO_WEEKS,
    ...(vpc ? { vpc: new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, restrictDefaultSecurityGroup: false }) } : {}),
  });
  return { stack, adapter };
}

describe('AdapterFunction', () => {
  const { stack, adapter } = setup();
  const caller = new iam.User(stack, 'Edge');
  adapter.grantInvokeUrl(caller);
  const template = Template.fromStack(stack);

  it('runs Node.js 22 on arm64 with the reserved concurrency and the adapter environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'gw-test-sagemaker-adapter',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Timeout: 60,
      ReservedConcurrentExecutions: 25,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          SAGEMAKER_MODELS: '{"m":{"endpointName":"e","format":"tgi"}}',
          ENVIRONMENT: 'test',
          POWERTOOLS_SERVICE_NAME: 'sagemaker-adapter',
          POWERTOOLS_METRICS_NAMESPACE: 'InferenceGateway/Adapters/test',
        }),
      },
    });
  });

  it('is reachable only through a SigV4 Function URL that streams responses', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', InvokeMode: 'RESPONSE_STREAM' });
    template.resourcePropertiesCountIs('AWS::Lambda::Permission', { Principal: '*' }, 0);
  });

  it('keeps its logs in its own log group for the configured retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^AdapterLogGroup') } }),
    });
  });

  it('has a role that may write its logs and traces and nothing else', () => {
    const actions = statementsFor(template, 'AdapterRole').flatMap(actionsOf).sort();
    expect(actions).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'].sort());
    template.hasResourceProperties('AWS::IAM::Role', { Description: Match.stringLikeRegexp('sagemaker-adapter'), ManagedPolicyArns: Match.absent() });
  });

  it('grantInvokeUrl allows InvokeFunctionUrl (AWS_IAM) and InvokeFunction only via the URL, on this function only', () => {
    const statements = statementsFor(template, 'Edge');
    expect(statements).toHaveLength(2);
    const url = statements.find((s) => actionsOf(s).includes('lambda:InvokeFunctionUrl'));
    const viaUrl = statements.find((s) => actionsOf(s).includes('lambda:InvokeFunction'));
    expect(url?.Condition).toEqual({ StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } });
    expect(viaUrl?.Condition).toEqual({ Bool: { 'lambda:InvokedViaFunctionUrl': true } });
    for (const s of statements) expect(s.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^AdapterFunction/), 'Arn'] });
  });

  it('passes cdk-nag AwsSolutions with its acknowledgements', () => {
    expect(nagFindings(stack)).toEqual([]);
  });

  it('in a VPC, gets its own security group that only talks HTTPS out', () => {
    const { stack: vpcStack } = setup(true);
    const t = Template.fromStack(vpcStack);
    t.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: Match.objectLike({ SecurityGroupIds: Match.anyValue() }) });
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'sagemaker-adapter adapter',
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp', Description: 'AWS APIs over HTTPS' }],
    });
    expect(nagFindings(vpcStack).filter((f) => f.includes('/Adapter/'))).toEqual([]);
  });
});
