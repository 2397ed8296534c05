/**
 * EdgePrincipal: an IAM user that may only call the adapters' Function URLs and put metrics into
 * the edge namespace; its key in Secrets Manager; outputs with wrangler commands and no secrets.
 */
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { AdapterFunction } from '../../lib/constructs/adapter-function';
import { EdgePrincipal } from '../../lib/constructs/edge-principal';
import { actionsOf, nagFindings, REPO_ROOT, statementsFor, testStack } from '../helpers';

describe('EdgePrincipal', () => {
  const stack = testStack();
  const adapter = new AdapterFunction(stack, 'Adapter', {
    entry: join(REPO_ROOT, 'backend/handlers/sagemaker.ts'),
    projectRoot: REPO_ROOT,
    serviceName: 'sagemaker-adapter',
    environmentName: 'staging',
  });
  new EdgePrincipal(stack, 'Edge', { environmentName: 'staging', adapters: [adapter] });
  const template = Template.fromStack(stack);
  const statements = statementsFor(template, 'EdgeUser');

  it('may call the adapter URL and put edge metrics, and nothing else', () => {
    expect(statements.flatMap(actionsOf).sort()).toEqual(['cloudwatch:PutMetricData', 'lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']);
    for (const s of statements.filter((x) => actionsOf(x).some((a) => a.startsWith('lambda:')))) {
      expect(s.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^AdapterFunction/), 'Arn'] });
    }
    expect(statements.find((s) => actionsOf(s).includes('lambda:InvokeFunction'))?.Condition).toEqual({
      Bool: { 'lambda:InvokedViaFunctionUrl': true },
    });
  });

  it('may put metrics only into the InferenceGateway/Edge namespace', () => {
    const metrics = statements.find((s) => actionsOf(s).includes('cloudwatch:PutMetricData'));
    expect(metrics?.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'InferenceGateway/Edge' } });
  });

  it('has no managed policies and no console access', () => {
    template.hasResourceProperties('AWS::IAM::User', { UserName: 'inference-gateway-edge-staging' });
    const [user] = Object.values(template.findResources('AWS::IAM::User'));
    expect(user?.Properties).not.toHaveProperty('ManagedPolicyArns');
    expect(user?.Properties).not.toHaveProperty('LoginProfile');
  });

  it('keeps the access key in Secrets Manager', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: 'inference-gateway/staging/edge-aws-credentials' });
    template.resourceCountIs('AWS::IAM::AccessKey', 1);
  });

  it('prints wrangler secret commands for the environment and never a secret value', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const values = Object.values(outputs).map((o) => JSON.stringify(o.Value));
    expect(values.some((v) => v.includes('wrangler secret put AWS_ACCESS_KEY_ID --env staging'))).toBe(true);
    expect(values.some((v) => v.includes('wrangler secret put AWS_SECRET_ACCESS_KEY --env staging'))).toBe(true);
    expect(values.join()).not.toMatch(/SecretAccessKey"\]|EdgeAccessKey/);
  });

  it('passes cdk-nag AwsSolutions with its acknowledgements', () => {
    expect(nagFindings(stack)).toEqual([]);
  });
});
