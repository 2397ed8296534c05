/**
 * wrangler.toml's queue consumers against the consumers' schedules (edge/queues/settings.ts), in
 * every environment, read the way wrangler reads them: each queue retries a message exactly as
 * often as its consumer may need (`max_retries` + 1 = PLATFORM_ATTEMPTS, sized by edge/queues/settings.ts), so the platform never
 * moves a message to the DLQ before the consumer dead-letters it, and never redelivers it 100 times.
 */
import { join } from 'node:path';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { describe, expect, it } from 'vitest';
import { PLATFORM_ATTEMPTS } from '../edge/queues/platform-attempts';

const CONFIG = join(import.meta.dirname, '..', 'wrangler.toml');

describe.each([undefined, 'dev', 'staging', 'prod'])('wrangler.toml queues (environment %s)', (environment) => {
  it('gives each consumer the attempts its schedule needs, and the dead-letter queue', () => {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(CONFIG, environment);
    const consumers = Object.entries(workerOptions.queueConsumers ?? {}) as Array<[string, { maxRetries?: number; deadLetterQueue?: string }]>;
    const suffix = environment ?? 'local';
    const attemptsOf = (kind: string) => consumers.find(([name]) => name.startsWith(`gw-${kind}-`))?.[1];
    const expected: Array<[string, number]> = [
      ['webhooks', PLATFORM_ATTEMPTS.webhooks],
      ['jobs-vip', PLATFORM_ATTEMPTS.jobs],
      ['jobs-standard', PLATFORM_ATTEMPTS.jobs],
      ['jobs-low', PLATFORM_ATTEMPTS.jobs],
      ['deliveries', PLATFORM_ATTEMPTS.deliveries],
      ['dlq', PLATFORM_ATTEMPTS.deadLetters],
    ];
    expect(consumers.map(([name]) => name).sort()).toEqual([...expected.map(([kind]) => `gw-${kind}-${suffix}`), `gw-usage-${suffix}`].sort());
    for (const [kind, attempts] of expected) {
      const consumer = attemptsOf(kind);
      expect((consumer?.maxRetries ?? -1) + 1, kind).toBe(attempts);
      expect(consumer?.deadLetterQueue, kind).toBe(kind === 'dlq' ? undefined : `gw-dlq-${suffix}`);
    }
  });

  it('declares the usage ledger: its queue with its own dead-letter queue, and the bucket of raw records', () => {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(CONFIG, environment);
    const suffix = environment ?? 'local';
    const consumer = (workerOptions.queueConsumers as Record<string, { maxBatchSize?: number; deadLetterQueue?: string }> | undefined)?.[`gw-usage-${suffix}`];
    expect(consumer?.deadLetterQueue).toBe(`gw-usage-dlq-${suffix}`);
    expect(consumer?.maxBatchSize).toBe(100);
    expect(workerOptions.queueProducers).toMatchObject({ USAGE_QUEUE: { queueName: `gw-usage-${suffix}` } });
    expect(workerOptions.r2Buckets).toMatchObject({ USAGE_BUCKET: { id: `gw-usage-${suffix}` } });
  });
});
