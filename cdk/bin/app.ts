/**
 * CDK entry point (`cdk.json`: `npx tsx cdk/bin/app.ts`). `-c env=dev|staging|prod` selects one
 * environment; without it all three are synthesised, each as its own Stage.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { UnknownEnvironmentError } from '../lib/environments';
import { buildGatewayApp } from '../lib/gateway-app';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const app = new App();
try {
  buildGatewayApp(app, { repoRoot });
  app.synth();
} catch (err) {
  if (!(err instanceof UnknownEnvironmentError)) throw err;
  console.error(`error: ${err.message}`);
  process.exitCode = 1;
}
