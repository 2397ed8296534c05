/**
 * Test projects: `node` (backend, tools, shared, end-to-end through the local stack), `edge` (inside
 * workerd via @cloudflare/vitest-pool-workers) and `cdk` (template assertions and cdk-nag).
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          environment: 'node',
          include: ['shared/**/*.test.ts', 'backend/**/*.test.ts', 'tools/**/*.test.ts', 'test/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
