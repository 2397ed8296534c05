/**
 * Outbound delivery of a finished job to the tenant's callback URL, signed with Standard Webhooks
 * headers (`webhook-id` stable across retries, `webhook-timestamp`, `webhook-signature` with one
 * `v1,` entry per tenant secret). 2xx is delivered; 410 Gone stops retrying at once; anything else
 * (including redirects, which are never followed) is retried with exponential backoff and jitter,
 * then dead-lettered. The URL passes the SSRF guard again at delivery time.
 */
import { storeKeys, TenantRecordSchema } from '../../shared/contracts/tenancy';
import { signStandardWebhook } from '../../shared/crypto/hmac';
import type { Store } from '../services/store';
import { jobView, loadJob, saveJob, type JobRecord } from './job-store';
import type { DeliveryMessage } from './messages';
import type { Outcome } from './outcome';
import type { AsyncSettings } from './settings';
import { callbackUrlProblem } from './ssrf';

export interface DeliveryDeps {
  readonly settings: AsyncSettings;
  readonly store: Store;
  readonly now: () => number;
  /** The fetch used for callbacks (the Worker's global fetch). */
  readonly fetch: typeof fetch;
}

const DELIVERY_TIMEOUT_MS = 30_000;

async function record(deps: DeliveryDeps, job: JobRecord, status: NonNullable<JobRecord['delivery']>['status'], attempts: number, lastStatus?: number) {
  await saveJob(deps.store, { ...job, delivery: { status, attempts, ...(lastStatus !== undefined ? { lastStatus } : {}) } }, deps.settings.jobResultTtlSeconds);
}

/** Delivers one job result; attempt `attempt` of `maxAttempts`. */
export async function deliverResult(message: DeliveryMessage, attempt: number, maxAttempts: number, deps: DeliveryDeps): Promise<Outcome> {
  const job = await loadJob(deps.store, message.jobId);
  if (!job || job.tenantId !== message.tenantId) return { kind: 'dead', reason: `job ${message.jobId} is not in the store (expired?)` };
  if (!job.callbackUrl || job.delivery?.status === 'delivered') return { kind: 'done' };
  const problem = callbackUrlProblem(job.callbackUrl, deps.settings.allowLoopbackCallbacks);
  if (problem) {
    await record(deps, job, 'dead-lettered', attempt);
    return { kind: 'dead', reason: `callback URL ${problem}` };
  }
  const rawTenant = await deps.store.get<unknown>(storeKeys.tenant(job.tenantId));
  const secrets = rawTenant === null ? undefined : TenantRecordSchema.safeParse(rawTenant).data?.webhookSecrets;
  if (!secrets || secrets.length === 0)
    return { kind: attempt < maxAttempts ? 'retry' : 'dead', reason: `tenant ${job.tenantId} has no webhook secret (gw tenant webhook-secret create)` };

  const body = JSON.stringify({
    type: job.status === 'succeeded' ? 'job.succeeded' : 'job.failed',
    timestamp: new Date(deps.now()).toISOString(),
    data: jobView(job),
  });
  const headers = await signStandardWebhook(secrets, message.deliveryId, Math.floor(deps.now() / 1000), body);
  let status: number;
  try {
    const response = await deps.fetch(job.callbackUrl, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'inference-gateway-webhooks/1' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    status = response.status;
    await response.body?.cancel().catch(() => {});
  } catch (err) {
    if (attempt >= maxAttempts) await record(deps, job, 'dead-lettered', attempt);
    return { kind: 'retry', reason: `callback unreachable: ${err instanceof Error ? err.message.slice(0, 200) : 'error'}` };
  }
  if (status >= 200 && status < 300) {
    await record(deps, job, 'delivered', attempt, status);
    return { kind: 'done' };
  }
  if (status === 410) {
    await record(deps, job, 'gone', attempt, status);
    return { kind: 'done' };
  }
  await record(deps, job, attempt >= maxAttempts ? 'dead-lettered' : 'pending', attempt, status);
  return { kind: 'retry', reason: `callback answered ${status}` };
}
