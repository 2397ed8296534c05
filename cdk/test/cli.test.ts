/**
 * The real CLI, offline: `cdk synth -c env=dev` bundles the adapter with the local esbuild and
 * writes the three templates without credentials or network; an unknown env fails with a message.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers';

const OFFLINE_ENV = {
  ...process.env,
  CDK_DISABLE_VERSION_CHECK: 'true',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_PROFILE: '',
};

const outdir = mkdtempSync(join(tmpdir(), 'cdk-synth-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function cdk(...args: string[]) {
  return spawnSync(join(REPO_ROOT, 'node_modules/.bin/cdk'), [...args, '--no-notices', '-o', outdir], {
    cwd: REPO_ROOT,
    env: OFFLINE_ENV,
    encoding: 'utf8',
    timeout: 110_000,
  });
}

describe('cdk synth (CLI, offline)', () => {
  it('synthesises the dev environment, bundling the adapter with the local esbuild', () => {
    const started = performance.now();
    const run = cdk('synth', '-c', 'env=dev', '-q');
    console.log(`cdk synth -c env=dev (CLI, with esbuild bundling) took ${Math.round(performance.now() - started)} ms`);
    expect(run.stderr).not.toMatch(/docker/i);
    expect(run.status, run.stderr).toBe(0);
    const files = readdirSync(outdir);
    for (const part of ['serving', 'adapters', 'observability']) expect(files).toContain(`inference-gateway-dev-${part}.template.json`);
    const bundles = files.filter((f) => f.startsWith('asset.')).map((f) => join(outdir, f, 'index.js'));
    expect(bundles.some((b) => existsSync(b))).toBe(true);
  });

  it('fails with a clear message for an unknown environment', () => {
    const run = cdk('synth', '-c', 'env=qa', '-q');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('unknown environment "qa": use -c env=dev|staging|prod');
  });
});
