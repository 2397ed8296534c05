/**
 * wrangler.toml's event-bus settings in every environment, read the way wrangler reads them: the
 * edge puts `eventbridge` webhook actions on the bus CDK creates for that environment
 * (shared/contracts/events.ts names both), and a triggered job's deadline is set explicitly.
 */
import { join } from 'node:path';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { describe, expect, it } from 'vitest';
import { eventBusName } from '../shared/contracts/events';

const CONFIG = join(import.meta.dirname, '..', 'wrangler.toml');

describe.each([undefined, 'dev', 'staging', 'prod'])('wrangler.toml event settings (environment %s)', (environment) => {
  it("names the environment's own bus and a job deadline", () => {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(CONFIG, environment);
    const vars = (workerOptions.bindings ?? {}) as Record<string, unknown>;
    expect(vars.EVENT_BUS_NAME).toBe(eventBusName(environment ?? 'local'));
    expect(vars.JOB_DEADLINE_SECONDS).toBe('3600');
    // The endpoint is the region's unless a deployment overrides it: no stand-in URL is deployed.
    expect(vars.EVENTBRIDGE_ENDPOINT).toBeUndefined();
  });
});
