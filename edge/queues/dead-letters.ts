/**
 * The dead-letter queue's consumer and redrive. Cloudflare Queues have no pull API, so the DLQ's
 * consumer records each dead letter in Redis (hash `gw:dlq`, field = message id) with the tenant it
 * belongs to, where the admin routes list and redrive them: a tenant's admin key sees only its own
 * tenant's letters (`/v1/admin/dlq`), the operator credential sees every letter
 * (`/v1/operator/dlq`, used by `gw dlq list|redrive`). Redrive puts letters back on the queue they
 * came from.
 */
import type { Bindings } from '../env';
import { describeError, log } from '../services/log';
import type { Store } from '../services/store';
import { DeadLetterMessageSchema, LiveMessageSchema, type DeadLetterMessage } from './messages';
import { enqueue } from './producer';
import { deadLetterRetryDelaySeconds } from './settings';

/** Redis hash of recorded dead letters. */
export const DLQ_KEY = 'gw:dlq';

/** A dead letter as recorded: its message id and, when it has one, the tenant it belongs to. */
export interface DeadLetterRecord extends DeadLetterMessage {
  readonly id: string;
  readonly tenantId?: string;
}

/** The store calls of listing and redrive. */
export type DeadLetterStore = Pick<Store, 'hgetall' | 'hdel'>;

/** Whose dead letters a caller may see: one tenant's, or (the operator) every letter, optionally one tenant's. */
export type DeadLetterScope = { readonly kind: 'tenant'; readonly tenantId: string } | { readonly kind: 'operator'; readonly tenantId?: string };

/**
 * The tenant a dead letter belongs to: a job's or a delivery's tenant. Webhook events come from
 * sources configured per deployment, not per tenant, so their letters belong to no tenant and only
 * the operator sees them.
 */
export function tenantOfLetter(letter: DeadLetterMessage): string | undefined {
  const original = letter.original;
  return original.kind === 'job' || original.kind === 'delivery' || original.kind === 'notice' ? original.tenantId : undefined;
}

/** Normalises a DLQ message body: an explicit dead letter, or a live message the platform moved. */
export function asDeadLetter(body: unknown, attempts: number, now: number): DeadLetterMessage | undefined {
  const explicit = DeadLetterMessageSchema.safeParse(body);
  if (explicit.success) return explicit.data;
  const live = LiveMessageSchema.safeParse(body);
  if (live.success) return { kind: 'dead-letter', original: live.data, reason: 'the consumer failed repeatedly (moved by the queue)', attempts, failedAt: now };
  return undefined;
}

/** The record stored for a dead letter (with its tenant, when it has one). */
function toRecord(id: string, letter: DeadLetterMessage): DeadLetterRecord {
  const tenantId = tenantOfLetter(letter);
  return { id, ...(tenantId !== undefined ? { tenantId } : {}), ...letter };
}

/**
 * Records a batch of the DLQ, one field per dead message (its own id: a message dead-lettered twice
 * is recorded once); unparseable bodies are recorded as such so nothing vanishes silently. A letter
 * is acked only once recorded: while the store is unavailable it is retried with backoff, for as long
 * as the queue keeps it (settings.ts).
 */
export async function recordDeadLetters(batch: MessageBatch<unknown>, store: Store, now: number, retryBaseSeconds: number): Promise<void> {
  for (const message of batch.messages) {
    const letter = asDeadLetter(message.body, message.attempts, now);
    const key = letter?.messageId ?? message.id;
    const record = letter ? toRecord(key, letter) : { id: key, kind: 'unparseable', body: JSON.stringify(message.body ?? null).slice(0, 4096), failedAt: now };
    try {
      await store.hset(DLQ_KEY, { [key]: JSON.stringify(record) });
    } catch (err) {
      log('warn', 'dead letter not recorded yet; will retry', { message_id: message.id, attempt: message.attempts, ...describeError(err) });
      message.retry({ delaySeconds: deadLetterRetryDelaySeconds(message.attempts, retryBaseSeconds) });
      continue;
    }
    message.ack();
  }
}

function visibleIn(scope: DeadLetterScope, record: DeadLetterRecord): boolean {
  if (scope.kind === 'tenant') return record.tenantId === scope.tenantId;
  return scope.tenantId === undefined || record.tenantId === scope.tenantId;
}

/** The dead letters `scope` may see, oldest first. */
export async function listDeadLetters(store: DeadLetterStore, scope: DeadLetterScope): Promise<DeadLetterRecord[]> {
  const all = (await store.hgetall<Record<string, unknown>>(DLQ_KEY)) ?? {};
  const out: DeadLetterRecord[] = [];
  for (const [id, raw] of Object.entries(all)) {
    const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
    const parsed = DeadLetterMessageSchema.safeParse(value);
    if (!parsed.success) continue;
    // The tenant is derived from the letter again rather than read back, so both can never disagree.
    const record = toRecord(id, parsed.data);
    if (visibleIn(scope, record)) out.push(record);
  }
  return out.sort((a, b) => a.failedAt - b.failedAt);
}

/** What a redrive did: the letters put back on their queues, or the requested ids `scope` cannot see. */
export interface RedriveResult {
  readonly redriven: string[];
  readonly missing: string[];
}

/**
 * Re-enqueues the chosen dead letters (of those `scope` sees) on their original queues and forgets
 * them. All or nothing: when any requested id is not visible to `scope` (unknown, or another
 * tenant's), nothing is redriven and those ids come back as `missing`.
 */
export async function redriveDeadLetters(
  env: Bindings,
  store: DeadLetterStore,
  scope: DeadLetterScope,
  ids: readonly string[] | 'all',
): Promise<RedriveResult> {
  const letters = await listDeadLetters(store, scope);
  const missing = ids === 'all' ? [] : ids.filter((id) => !letters.some((l) => l.id === id));
  if (missing.length > 0) return { redriven: [], missing };
  const chosen = ids === 'all' ? letters : letters.filter((l) => ids.includes(l.id));
  const redriven: string[] = [];
  for (const letter of chosen) {
    await enqueue(env, letter.original);
    await store.hdel(DLQ_KEY, letter.id);
    redriven.push(letter.id);
  }
  return { redriven, missing: [] };
}
