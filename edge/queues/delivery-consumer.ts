/**
 * Outbound delivery of a finished job (and of notices, such as a spend budget's thresholds) to the tenant's callback URL, signed with Standard Webhooks
 * headers (`webhook-id` stable across retries, `webhook-timestamp`, `webhook-signature` with one
 * `v1,` entry per tenant secret). 2xx is delivered; 410 Gone stops retrying at once; anything else
 * (including redirects, which are never followed) is retried with exponential backoff and jitter,
 * then dead-lettered; each POST has the `DELIVERY_TIMEOUT_MS` deadline. The URL passes the SSRF
 * guard again at delivery time.
 */
import { storeKeys, TenantRecordSchema } from '../../shared/contracts/tenancy';
import { signStandardWebhook } from '../../shared/crypto/hmac';
import type { Store } from '../services/store';
import { jobView, loadJob, saveJob, type JobRecord } from './job-store';
import type { DeliveryMessage, NoticeMessage } from './messages';
import type { Outcome } from './outcome';
import type { AsyncSettings } from './settings';
import { callbackUrlProblem } from './ssrf';

export interface DeliveryDeps {
  readonly settings: AsyncSettings;
  /** The consumers' store: its failures are StoreUnavailableError. */
  readonly store: Store;
  readonly now: () => number;
  /** The fetch used for callbacks (the Worker's global fetch). */
  readonly fetch: typeof fetch;
}

async function record(deps: DeliveryDeps, job: JobRecord, status: NonNullable<JobRecord['delivery']>['status'], attempts: number, lastStatus?: number) {
  await saveJob(deps.store, { ...job, delivery: { status, attempts, ...(lastStatus !== undefined ? { lastStatus } : {}) } }, deps.settings.jobResultTtlSeconds);
}

/**
 * Delivers one job result on the queue's attempt `platformAttempt`. The callback attempts are
 * counted in the job record (`delivery.attempts`), so retries of a store outage do not use them up.
 */
export async function deliverResult(message: DeliveryMessage, platformAttempt: number, deps: DeliveryDeps): Promise<Outcome> {
  const job = await loadJob(deps.store, message.jobId);
  if (!job || job.tenantId !== message.tenantId) return { kind: 'dead', reason: `job ${message.jobId} is not in the store (expired?)` };
  const previous = job.delivery;
  if (!job.callbackUrl || previous?.status === 'delivered' || previous?.status === 'gone') return { kind: 'done' };
  // A first attempt at a dead-lettered delivery is a redrive (a fresh budget); a later one is a
  // redelivery of the message already dead-lettered, which stays dead (recorded once, by message id).
  const redrive = previous?.status === 'dead-lettered' && platformAttempt === 1;
  if (previous?.status === 'dead-lettered' && !redrive)
    return { kind: 'dead', reason: `callback failed ${previous.attempts} times${previous.lastStatus ? ` (last answer ${previous.lastStatus})` : ''}` };
  const attempt = (redrive ? 0 : (previous?.attempts ?? 0)) + 1;
  const last = attempt >= deps.settings.deliveryMaxAttempts;
  const failed = async (reason: string, lastStatus?: number): Promise<Outcome> => {
    await record(deps, job, last ? 'dead-lettered' : 'pending', attempt, lastStatus);
    return last ? { kind: 'dead', reason } : { kind: 'retry', cause: 'backend', attempt, reason };
  };

  const problem = callbackUrlProblem(job.callbackUrl, deps.settings.allowLoopbackCallbacks);
  if (problem) {
    await record(deps, job, 'dead-lettered', attempt);
    return { kind: 'dead', reason: `callback URL ${problem}` };
  }
  const secrets = (await tenantOf(deps.store, job.tenantId))?.webhookSecrets;
  if (!secrets || secrets.length === 0) return failed(`tenant ${job.tenantId} has no webhook secret (gw tenant webhook-secret create)`);

  const body = JSON.stringify({
    type: job.status === 'succeeded' ? 'job.succeeded' : 'job.failed',
    timestamp: new Date(deps.now()).toISOString(),
    data: jobView(job),
  });
  const sent = await postSigned(job.callbackUrl, secrets, message.deliveryId, body, deps);
  if ('error' in sent) return failed(sent.error);
  const { status } = sent;
  if (status >= 200 && status < 300) {
    await record(deps, job, 'delivered', attempt, status);
    return { kind: 'done' };
  }
  if (status === 410) {
    await record(deps, job, 'gone', attempt, status);
    return { kind: 'done' };
  }
  return failed(`callback answered ${status}`, status);
}

/** The tenant's record (callback URL, webhook secrets), or undefined. */
async function tenantOf(store: Store, tenantId: string) {
  const raw = await store.get<unknown>(storeKeys.tenant(tenantId));
  return raw === null ? undefined : TenantRecordSchema.safeParse(raw).data;
}

/** One signed POST (Standard Webhooks headers, one signature per secret) with the delivery timeout; redirects are not followed. */
async function postSigned(
  url: string,
  secrets: readonly string[],
  deliveryId: string,
  body: string,
  deps: DeliveryDeps,
): Promise<{ status: number } | { error: string }> {
  const headers = await signStandardWebhook([...secrets], deliveryId, Math.floor(deps.now() / 1000), body);
  try {
    const response = await deps.fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'inference-gateway-webhooks/1' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.settings.deliveryTimeoutMs),
    });
    await response.body?.cancel().catch(() => {});
    return { status: response.status };
  } catch (err) {
    return { error: `callback unreachable: ${err instanceof Error ? err.message.slice(0, 200) : 'error'}` };
  }
}

/**
 * Delivers a notice to the tenant's callback URL, signed like a job result. The queue's attempts
 * count the callback's (a notice has no record of its own); 410 Gone and a tenant without a
 * callback URL end it, as nobody wants it.
 */
export async function deliverNotice(message: NoticeMessage, platformAttempt: number, deps: DeliveryDeps): Promise<Outcome> {
  const tenant = await tenantOf(deps.store, message.tenantId);
  if (!tenant?.callbackUrl) return { kind: 'done' };
  const problem = callbackUrlProblem(tenant.callbackUrl, deps.settings.allowLoopbackCallbacks);
  if (problem) return { kind: 'dead', reason: `callback URL ${problem}` };
  const failed = (reason: string): Outcome => ({ kind: 'retry', cause: 'backend', attempt: platformAttempt, reason });
  if (!tenant.webhookSecrets?.length) return failed(`tenant ${tenant.tenantId} has no webhook secret (gw tenant webhook-secret create)`);
  const body = JSON.stringify({ type: message.type, timestamp: new Date(deps.now()).toISOString(), data: message.data });
  const sent = await postSigned(tenant.callbackUrl, tenant.webhookSecrets, message.deliveryId, body, deps);
  if ('error' in sent) return failed(sent.error);
  if ((sent.status >= 200 && sent.status < 300) || sent.status === 410) return { kind: 'done' };
  return failed(`callback answered ${sent.status}`);
}
