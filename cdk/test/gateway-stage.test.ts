/**
 * One Stage per environment, synthesised with cdk-nag's AwsSolutionsChecks registered as a
 * validation plugin (synthesis fails on any unacknowledged finding): per-stage synthesis time,
 * no nag findings, no warnings or errors, stack names carrying the environment, no physical name
 * shared between environments, no *FullAccess policy, no synth-time lookups.
 */
import { type Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_NAMES, ENVIRONMENTS, type EnvironmentName } from '../lib/environments';
import { GatewayStage } from '../lib/gateway-stage';
import { nagFindings, REPO_ROOT, testApp } from './helpers';

/** Properties that give a resource a fixed physical name. */
const NAME_PROPERTIES = ['EndpointName', 'InferenceComponentName', 'FunctionName', 'UserName', 'TopicName', 'AlarmName', 'DashboardName', 'Name'];

const physicalNames = new Map<EnvironmentName, Set<string>>();

describe.each(ENVIRONMENT_NAMES)('the %s stage', (name) => {
  const app = testApp();
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stage = new GatewayStage(app, name, { config: ENVIRONMENTS[name], repoRoot: REPO_ROOT });
  const stacks = Object.values(stage.stacks) as Stack[];
  const started = performance.now();
  const assembly = app.synth();
  console.log(`synthesised stage ${name} (${stacks.length} stacks, cdk-nag plugin included) in ${Math.round(performance.now() - started)} ms`);

  it('synthesises offline, with no context lookups', () => {
    expect(assembly.getNestedAssembly(`assembly-${name}`).stacks).toHaveLength(3);
    expect(assembly.manifest.missing ?? []).toEqual([]);
  });

  it('has no unacknowledged cdk-nag AwsSolutions finding', () => {
    expect(nagFindings(stage)).toEqual([]);
  });

  it('has no warnings or errors', () => {
    for (const stack of stacks) {
      const annotations = Annotations.fromStack(stack);
      expect(annotations.findError('*', Match.anyValue()), stack.stackName).toEqual([]);
      expect(annotations.findWarning('*', Match.anyValue()), stack.stackName).toEqual([]);
    }
  });

  it('names every stack after the environment', () => {
    expect(stacks.map((s) => s.stackName).sort()).toEqual(
      [`inference-gateway-${name}-adapters`, `inference-gateway-${name}-observability`, `inference-gateway-${name}-serving`].sort(),
    );
    for (const artifact of assembly.getNestedAssembly(`assembly-${name}`).stacks) expect(artifact.tags).toMatchObject({ Environment: name });
  });

  it('grants no *FullAccess managed policy', () => {
    for (const stack of stacks) expect(JSON.stringify(Template.fromStack(stack).toJSON())).not.toMatch(/FullAccess/);
  });

  it('puts the environment into every fixed physical name', () => {
    const names = new Set<string>();
    for (const stack of stacks) {
      for (const resource of Object.values(Template.fromStack(stack).toJSON().Resources as Record<string, { Properties?: Record<string, unknown> }>)) {
        for (const key of NAME_PROPERTIES) {
          const value = resource.Properties?.[key];
          if (typeof value === 'string') names.add(value);
        }
      }
    }
    expect(names.size).toBeGreaterThan(10);
    for (const n of names) expect(n).toContain(name);
    physicalNames.set(name, names);
  });
});

describe('the three stages', () => {
  it('share no physical name', () => {
    const all = [...physicalNames.values()].flatMap((s) => [...s]);
    expect(physicalNames.size).toBe(3);
    expect(new Set(all).size).toBe(all.length);
  });
});
