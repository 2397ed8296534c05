/**
 * The app's shape per `-c env=`: one environment's stacks at the top level (what `cdk deploy
 * --all` deploys), all three as Stages without it, a clear error for an unknown name. Also proves
 * that the cdk-nag validation plugin fails synthesis on an unacknowledged finding, and that the
 * IAM5 finding ids computed for acknowledgements match cdk-nag's.
 */
import { Stack, Stage, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { UnknownEnvironmentError } from '../lib/environments';
import { buildGatewayApp } from '../lib/gateway-app';
import { acknowledgeWildcardResources, wildcardResourceFindingId } from '../lib/nag';
import { nagFindings, REPO_ROOT, testApp, testStack } from './helpers';

describe('buildGatewayApp', () => {
  it('with -c env=staging puts exactly the staging stacks at the top level', () => {
    const app = testApp({ env: 'staging' });
    buildGatewayApp(app, { repoRoot: REPO_ROOT });
    const topLevel = app.node.children.filter((c): c is Stack => Stack.isStack(c)).map((s) => s.stackName);
    expect(topLevel.sort()).toEqual(['inference-gateway-staging-adapters', 'inference-gateway-staging-observability', 'inference-gateway-staging-serving']);
    expect(app.node.children.some((c) => Stage.isStage(c))).toBe(false);
  });

  it('without an env synthesises one Stage per environment and no top-level stack', () => {
    const app = testApp();
    const built = buildGatewayApp(app, { repoRoot: REPO_ROOT });
    expect([...built.keys()]).toEqual(['dev', 'staging', 'prod']);
    expect(app.node.children.filter((c) => Stage.isStage(c)).map((s) => s.node.id)).toEqual(['dev', 'staging', 'prod']);
    expect(app.node.children.some((c) => Stack.isStack(c))).toBe(false);
  });

  it('rejects an unknown environment with the list of valid ones', () => {
    expect(() => buildGatewayApp(testApp({ env: 'qa' }), { repoRoot: REPO_ROOT })).toThrow(UnknownEnvironmentError);
    expect(() => buildGatewayApp(testApp({ env: 'qa' }), { repoRoot: REPO_ROOT })).toThrow(/dev\|staging\|prod/);
  });
});

describe('cdk-nag as a validation plugin', () => {
  it('fails synthesis on an unacknowledged finding', () => {
    const app = testApp();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    new sns.Topic(testStack(app), 'PlainTopic');
    expect(() => app.synth()).toThrow(/AwsSolutions-SNS3/);
  });

  it('accepts the finding once it is acknowledged with a reason', () => {
    const app = testApp();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const topic = new sns.Topic(testStack(app), 'PlainTopic');
    Validations.of(topic).acknowledge({ id: 'AwsSolutions-SNS2', reason: 'test' }, { id: 'AwsSolutions-SNS3', reason: 'test' });
    expect(() => app.synth()).not.toThrow();
  });

  it('computes the IAM5 finding id of a tokenised wildcard ARN exactly as cdk-nag reports it', () => {
    const stack = testStack();
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const arn = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: 'x*' });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:PutLogEvents'], resources: [arn] }));
    expect(nagFindings(stack)).toEqual([`${wildcardResourceFindingId(role, arn)} (error) TestStack/Role/DefaultPolicy/Resource`]);
    acknowledgeWildcardResources(role, [arn], 'test');
    expect(nagFindings(stack)).toEqual([]);
  });
});
