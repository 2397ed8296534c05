/**
 * The edge's local settings, written as a dotenv file for `wrangler dev --env-file` so that secrets
 * (store token, AWS keys) never appear on a command line.
 */
import { writeFile } from 'node:fs/promises';

/** Quotes a value for dotenv: single quotes keep JSON intact; single quotes inside are refused. */
function dotenvValue(value: string): string {
  if (value.includes("'") || value.includes('\n')) throw new Error('edge settings must not contain single quotes or newlines');
  return `'${value}'`;
}

export async function writeEdgeEnv(path: string, vars: Record<string, string>): Promise<void> {
  const text = Object.entries(vars)
    .map(([k, v]) => `${k}=${dotenvValue(v)}`)
    .join('\n');
  await writeFile(path, `${text}\n`, { mode: 0o600 });
}

/** The local stack's webhook source, as stack.json describes it (the CLI's `webhook send` reads it). */
export interface LocalWebhookSource {
  readonly source: string;
  readonly scheme: 'standard';
  /** A fresh `whsec_` secret for every start. */
  readonly secret: string;
}

/** Event type of the demo job: `{"text": "…"}` becomes a summary by the local model. */
export const DEMO_JOB_TYPE = 'demo.summarize';
/** Event types the demo puts on the local EventBridge bus. */
export const DEMO_BUS_TYPES = 'orders.*';

/**
 * The edge's webhook settings on the local stack: one Standard Webhooks source `ingest` whose
 * `demo.summarize` events become jobs of the dev tenant (summarised by the local model) and whose
 * `orders.*` events go to the EventBridge stand-in, which the edge calls as it would EventBridge.
 */
export function localWebhookVars(options: { readonly tenantId: string; readonly model: string; readonly eventBridgeUrl: string; readonly secret: string }): {
  readonly vars: Record<string, string>;
  readonly source: LocalWebhookSource;
} {
  const source: LocalWebhookSource = { source: 'ingest', scheme: 'standard', secret: options.secret };
  const sources = {
    [source.source]: {
      scheme: 'standard',
      secrets: ['WEBHOOK_SECRET_INGEST'],
      tenant: options.tenantId,
      actions: {
        [DEMO_JOB_TYPE]: {
          action: 'job',
          template: { model: options.model, prompt: 'Summarize in one sentence: {{payload.text}}', params: { max_tokens: 48 } },
        },
        [DEMO_BUS_TYPES]: { action: 'eventbridge' },
      },
    },
  };
  return {
    source,
    vars: { WEBHOOK_SOURCES: JSON.stringify(sources), WEBHOOK_SECRET_INGEST: options.secret, EVENTBRIDGE_ENDPOINT: `${options.eventBridgeUrl}/` },
  };
}
