/**
 * How the stacks compose: the adapters' environment parses with the backend's own config loaders,
 * the ECS adapter reaches the internal ALB without a stack cycle, the edge may call every adapter,
 * the outputs tell the edge what it needs, and an environment without ECS has no VPC.
 */
import { Stage } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { loadEcsConfig } from '../../backend/config/ecs';
import { loadSagemakerConfig } from '../../backend/config/sagemaker';
import { RouteTableSchema } from '../../edge/services/route-table';
import { ENVIRONMENT_NAMES, ENVIRONMENTS } from '../lib/environments';
import { addGatewayStacks } from '../lib/gateway-stage';
import { actionsOf, REPO_ROOT, statementsFor, testApp } from './helpers';

type FunctionResource = { Properties: { FunctionName: string; Environment: { Variables: Record<string, unknown> } } };

/** The environment of the function called `name`, tokens replaced by a placeholder host. */
function functionEnvironment(template: Template, name: string): Record<string, string> {
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f) => (f as FunctionResource).Properties.FunctionName === name) as
    | FunctionResource
    | undefined;
  if (!fn) throw new Error(`no function ${name}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fn.Properties.Environment.Variables)) {
    out[k] =
      typeof v === 'string'
        ? v
        : (v as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : 'internal-alb.example')).join('');
  }
  return out;
}

describe('the staging stacks', () => {
  const app = testApp();
  const stacks = addGatewayStacks(new Stage(app, 'staging'), { config: ENVIRONMENTS.staging, repoRoot: REPO_ROOT });
  const adapters = Template.fromStack(stacks.adapters);
  const serving = Template.fromStack(stacks.serving);

  it('configures the SageMaker adapter in the shape backend/config/sagemaker.ts accepts', () => {
    const config = loadSagemakerConfig(functionEnvironment(adapters, 'inference-gateway-staging-sagemaker-adapter'));
    expect(config.models['qwen2.5-7b-instruct']).toMatchObject({
      endpointName: 'inference-gateway-staging-llm',
      format: 'openai-chat',
      inferenceComponent: 'inference-gateway-staging-llm-model',
    });
    expect(config.timeouts.requestMs).toBe(295_000);
  });

  it('configures the ECS adapter with the internal ALB in the shape backend/config/ecs.ts accepts', () => {
    const config = loadEcsConfig(functionEnvironment(adapters, 'inference-gateway-staging-ecs-adapter'));
    expect(config.models['phi-3.5-mini-instruct']).toMatchObject({
      format: 'openai-chat',
      baseUrl: 'http://internal-alb.example/v1',
      modelId: 'phi-3.5-mini-instruct',
    });
  });

  it('lets only the ECS adapter into the ALB, with the rule in the adapters stack (no cycle)', () => {
    adapters.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 80,
      ToPort: 80,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EcsAdapterSecurityGroup'), 'GroupId'] },
    });
    adapters.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      FromPort: 80,
      ToPort: 80,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EcsAdapterSecurityGroup'), 'GroupId'] },
    });
    expect(stacks.serving.dependencies).not.toContain(stacks.adapters);
  });

  it('lets each adapter invoke only its own model', () => {
    const sm = statementsFor(adapters, 'SagemakerAdapterRole').filter((s) => actionsOf(s).some((a) => a.startsWith('sagemaker:')));
    expect(sm.flatMap(actionsOf).sort()).toEqual(['sagemaker:InvokeEndpoint', 'sagemaker:InvokeEndpointWithResponseStream']);
    expect(JSON.stringify(sm)).toContain(':endpoint/inference-gateway-staging-llm');
    const ecs = statementsFor(adapters, 'EcsAdapterRole').flatMap(actionsOf);
    expect(ecs.filter((a) => a.startsWith('sagemaker:'))).toEqual([]);
  });

  it('lets the edge call both adapters', () => {
    const lambda = statementsFor(adapters, 'EdgePrincipalUser').filter((s) => actionsOf(s).some((a) => a.startsWith('lambda:')));
    const resources = JSON.stringify(lambda.map((s) => s.Resource));
    expect(resources).toContain('SagemakerAdapterFunction');
    expect(resources).toContain('EcsAdapterFunction');
  });

  it('outputs a ROUTE_TABLE the edge accepts, the adapter URLs and the wrangler commands for --env staging', () => {
    const outputs = adapters.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs)).toEqual(expect.arrayContaining(['SagemakerAdapterUrl', 'EcsAdapterUrl', 'EdgeRouteTable', 'EdgeAwsRegion']));
    const parts = (outputs.EdgeRouteTable!.Value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
    const table = RouteTableSchema.parse(JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'https://abc.lambda-url.us-east-1.on.aws/')).join('')));
    expect(Object.keys(table.models).sort()).toEqual(['phi-3.5-mini-instruct', 'qwen2.5-7b-instruct']);
    expect(table.models['qwen2.5-7b-instruct']?.backends).toEqual([{ name: 'sagemaker', url: 'https://abc.lambda-url.us-east-1.on.aws/', kind: 'sagemaker' }]);
    expect(JSON.stringify(outputs)).toContain('wrangler secret put AWS_SECRET_ACCESS_KEY --env staging');
  });

  it('runs the GPU service in its own VPC in the serving stack', () => {
    serving.resourceCountIs('AWS::EC2::VPC', 1);
    serving.resourceCountIs('AWS::SageMaker::Endpoint', 1);
  });
});

describe("the adapters' trace collector", () => {
  it('is configured per environment from its adapters.traces, in the shape backend/config/env.ts accepts', () => {
    const app = testApp();
    const staging = ENVIRONMENTS.staging;
    const config = {
      ...staging,
      adapters: { ...staging.adapters, traces: { endpoint: 'https://otel.staging.example/v1/traces', timeoutMs: 1500, sampleRatio: 0.25 } },
    };
    const adapters = Template.fromStack(addGatewayStacks(new Stage(app, 'staging'), { config, repoRoot: REPO_ROOT }).adapters);
    const expected = { endpoint: 'https://otel.staging.example/v1/traces', timeoutMs: 1500, sampleRatio: 0.25, environment: 'staging' };
    expect(loadSagemakerConfig(functionEnvironment(adapters, 'inference-gateway-staging-sagemaker-adapter')).observability.traces).toEqual(expected);
    expect(loadEcsConfig(functionEnvironment(adapters, 'inference-gateway-staging-ecs-adapter')).observability.traces).toEqual(expected);
  });

  it.each(ENVIRONMENT_NAMES)('is off in %s as shipped (no collector known): no TRACES_* variables, no spans', (name) => {
    const app = testApp();
    const adapters = Template.fromStack(addGatewayStacks(new Stage(app, name), { config: ENVIRONMENTS[name], repoRoot: REPO_ROOT }).adapters);
    const env = functionEnvironment(adapters, `inference-gateway-${name}-sagemaker-adapter`);
    expect(Object.keys(env).filter((k) => k.startsWith('TRACES_'))).toEqual([]);
    expect(loadSagemakerConfig(env).observability.traces.endpoint).toBeUndefined();
  });

  it('refuses a collector URL that is not http(s)', () => {
    const staging = ENVIRONMENTS.staging;
    const config = { ...staging, adapters: { ...staging.adapters, traces: { endpoint: 'otel.example:4318' } } };
    expect(() => addGatewayStacks(new Stage(testApp(), 'staging'), { config, repoRoot: REPO_ROOT })).toThrow(
      /adapters.traces.endpoint must be an http\(s\) URL/,
    );
  });
});

describe('an environment without ECS (dev)', () => {
  const app = testApp();
  const stacks = addGatewayStacks(new Stage(app, 'dev'), { config: ENVIRONMENTS.dev, repoRoot: REPO_ROOT });

  it('has no VPC, no GPU service and no ECS adapter', () => {
    Template.fromStack(stacks.serving).resourceCountIs('AWS::EC2::VPC', 0);
    Template.fromStack(stacks.serving).resourceCountIs('AWS::ECS::Service', 0);
    expect(stacks.adapters.ecsAdapter).toBeUndefined();
  });
});

describe.each(ENVIRONMENT_NAMES)('the %s environment', (name) => {
  const app = testApp();
  const stacks = addGatewayStacks(new Stage(app, name), { config: ENVIRONMENTS[name], repoRoot: REPO_ROOT });

  it('has an ECS adapter exactly when it has a GPU service, routed in the edge route table', () => {
    const services = Object.keys(Template.fromStack(stacks.serving).findResources('AWS::ECS::Service')).length;
    expect(services).toBe(ENVIRONMENTS[name].ecs.enabled ? 1 : 0);
    expect(stacks.adapters.ecsAdapter !== undefined).toBe(services === 1);
    const outputs = Template.fromStack(stacks.adapters).findOutputs('*');
    expect(Object.keys(outputs).includes('EcsAdapterUrl')).toBe(services === 1);
  });
});
