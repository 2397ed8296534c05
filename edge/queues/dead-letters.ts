/**
 * The dead-letter queue's consumer and redrive. Cloudflare Queues have no pull API, so the DLQ's
 * consumer records each dead letter in Redis (hash `gw:dlq`, field = message id), where the
 * operator CLI lists them (`gw dlq list`) and an admin route (`POST /v1/admin/dlq/redrive`, used by
 * `gw dlq redrive`) puts them back on the queue they came from.
 */
import type { Bindings } from '../env';
import { describeError, log } from '../services/log';
import type { Store } from '../services/store';
import { DeadLetterMessageSchema, LiveMessageSchema, type DeadLetterMessage } from './messages';
import { enqueue } from './producer';
import { deadLetterRetryDelaySeconds } from './settings';

/** Redis hash of recorded dead letters. */
export const DLQ_KEY = 'gw:dlq';

/** A dead letter as recorded. */
export interface DeadLetterRecord extends DeadLetterMessage {
  readonly id: string;
}

/** Normalises a DLQ message body: an explicit dead letter, or a live message the platform moved. */
export function asDeadLetter(body: unknown, attempts: number, now: number): DeadLetterMessage | undefined {
  const explicit = DeadLetterMessageSchema.safeParse(body);
  if (explicit.success) return explicit.data;
  const live = LiveMessageSchema.safeParse(body);
  if (live.success) return { kind: 'dead-letter', original: live.data, reason: 'the consumer failed repeatedly (moved by the queue)', attempts, failedAt: now };
  return undefined;
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
    const record = letter ? { id: key, ...letter } : { id: key, kind: 'unparseable', body: JSON.stringify(message.body ?? null).slice(0, 4096), failedAt: now };
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

/** Every recorded dead letter, oldest first. */
export async function listDeadLetters(store: Store): Promise<DeadLetterRecord[]> {
  const all = (await store.hgetall<Record<string, unknown>>(DLQ_KEY)) ?? {};
  const out: DeadLetterRecord[] = [];
  for (const [id, raw] of Object.entries(all)) {
    const value = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
    const parsed = DeadLetterMessageSchema.safeParse(value);
    if (parsed.success) out.push({ id, ...parsed.data });
  }
  return out.sort((a, b) => a.failedAt - b.failedAt);
}

/** Re-enqueues the chosen dead letters on their original queues and forgets them; reports what happened. */
export async function redriveDeadLetters(env: Bindings, store: Store, ids: readonly string[] | 'all'): Promise<{ redriven: string[]; missing: string[] }> {
  const letters = await listDeadLetters(store);
  const chosen = ids === 'all' ? letters : letters.filter((l) => ids.includes(l.id));
  const missing = ids === 'all' ? [] : ids.filter((id) => !letters.some((l) => l.id === id));
  const redriven: string[] = [];
  for (const letter of chosen) {
    await enqueue(env, letter.original);
    await store.hdel(DLQ_KEY, letter.id);
    redriven.push(letter.id);
  }
  return { redriven, missing };
}
