/**
 * How many times the platform delivers one message of each queue: wrangler.toml's `max_retries` + 1,
 * the same in every environment (test/wrangler-queues.test.ts reads them as wrangler does). Each is
 * sized to the longest schedule its consumer may run (settings.ts), so the consumer, not the
 * platform, decides when a message is dead-lettered. Free of Worker types so that test can import it.
 */
export const PLATFORM_ATTEMPTS = { webhooks: 16, jobs: 16, deliveries: 32, deadLetters: 101 } as const;
