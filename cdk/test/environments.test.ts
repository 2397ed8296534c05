/**
 * The environments config: `-c env=` selection, a clear error for unknown names, and sane values in
 * every environment.
 */
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_NAMES, ENVIRONMENTS, selectEnvironments, UnknownEnvironmentError } from '../lib/environments';

describe('selectEnvironments', () => {
  it('selects all three environments when no env is given', () => {
    expect(selectEnvironments(undefined).map((e) => e.name)).toEqual(['dev', 'staging', 'prod']);
    expect(selectEnvironments('').map((e) => e.name)).toEqual(['dev', 'staging', 'prod']);
  });

  it('selects exactly the named environment', () => {
    expect(selectEnvironments('staging').map((e) => e.name)).toEqual(['staging']);
  });

  it('rejects an unknown name with a message listing the valid ones', () => {
    expect(() => selectEnvironments('qa')).toThrow(UnknownEnvironmentError);
    expect(() => selectEnvironments('qa')).toThrow('unknown environment "qa": use -c env=dev|staging|prod');
  });
});

describe.each(ENVIRONMENT_NAMES)('the %s environment', (name) => {
  const config = ENVIRONMENTS[name];

  it('is keyed by its own name and pins a region', () => {
    expect(config.name).toBe(name);
    expect(config.region).toMatch(/^[a-z]{2}(-[a-z]+)+-\d$/);
  });

  it('has capacities that autoscaling accepts', () => {
    const sm = config.sagemaker;
    expect(sm.maxCapacity).toBeGreaterThanOrEqual(Math.max(1, sm.minCapacity));
    expect(sm.minCapacity).toBeGreaterThanOrEqual(sm.scaleToZero ? 0 : 1);
    expect(sm.instanceType).toMatch(/^ml\.(g|p)\d/);
    expect(config.ecs.maxCapacity).toBeGreaterThanOrEqual(config.ecs.minCapacity);
    expect(config.ecs.instanceType).toMatch(/^(g|p)\d/);
  });

  it('keeps the SPEC §10 alarm defaults', () => {
    expect(config.alarms).toMatchObject({ edgeLatencySloMs: 300, errorRatePercent: 2, dlqThreshold: 100 });
  });
});
