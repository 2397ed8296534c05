/**
 * Builds the CDK app from the `env` context value: one environment's stacks at the top level when
 * `-c env=NAME` is given (what `cdk deploy -c env=NAME --all` deploys), or one Stage per environment
 * when it is not (synthesis and review of all three; `--all` then refuses to deploy anything, which
 * protects against deploying every environment at once).
 */
import type { App } from 'aws-cdk-lib';
import { selectEnvironments, type EnvironmentConfig, type EnvironmentName } from './environments';
import { addGatewayStacks, GatewayStage, type GatewayStacks } from './gateway-stage';

/** Options of buildGatewayApp. */
export interface GatewayAppOptions {
  /** Repository root. */
  readonly repoRoot: string;
  /** Environments config. @default ENVIRONMENTS */
  readonly environments?: Readonly<Record<EnvironmentName, EnvironmentConfig>>;
}

/** Adds the selected environments to `app`; throws UnknownEnvironmentError for a bad `env`. */
export function buildGatewayApp(app: App, options: GatewayAppOptions): Map<EnvironmentName, GatewayStacks> {
  const selected = app.node.tryGetContext('env') as unknown;
  const configs = selectEnvironments(selected, options.environments);
  const result = new Map<EnvironmentName, GatewayStacks>();
  if (selected) {
    const [config] = configs;
    if (config) result.set(config.name, addGatewayStacks(app, { config, repoRoot: options.repoRoot }));
    return result;
  }
  for (const config of configs) {
    result.set(config.name, new GatewayStage(app, config.name, { config, repoRoot: options.repoRoot }).stacks);
  }
  return result;
}
