/**
 * Test projects: `node` (backend, tools, shared, end-to-end through the local stack), `edge` (the
 * worker inside workerd via @cloudflare/vitest-pool-workers, against the real local stack started
 * by its global setup) and `cdk` (template assertions and cdk-nag).
 */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

// The SDK warns that its 2027 releases need Node 22 (the Lambda runtime); locally we run Node 20.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export default defineConfig({
  test: {
    reporters: ['default', './test/reporters/summary.ts'],
    // Most suites wait on local servers rather than compute: more workers than the 2 cores pays off.
    maxWorkers: 3,
    // The worker logs a JSON line per request; keep warnings and errors, drop the info lines.
    onConsoleLog: (log) => !log.startsWith('{"level":"info"'),
    projects: [
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['shared/**/*.test.ts', 'backend/**/*.test.ts', 'tools/**/*.test.ts', 'test/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: { bindings: inject('edgeVars') },
          })),
        ],
        test: {
          name: 'edge',
          include: ['edge/**/*.test.ts'],
          // Files share one model server whose fault knobs some tests turn: run them one at a time.
          fileParallelism: false,
          globalSetup: ['test/setup/edge-stack.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'cdk',
          environment: 'node',
          include: ['cdk/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
