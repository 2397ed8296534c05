/**
 * The "done when": N signed events with duplicates, replays and forgeries mixed in, sent
 * while the forward target (the events backend) goes down part-way and comes back. Every valid
 * unique event ends up forwarded exactly once or recorded in the dead letters; no forged or stale
 * replay is forwarded; the counts add up. Real workerd, real Redis through the bridge, miniflare's
 * queues with the consumer's real retries, backoff and DLQ.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { env, SELF } from 'cloudflare:test';
import { store } from '../testing/seed';
import { forwardedIds, newEvent, receiverBehaves, secrets, sendStandard } from '../testing/webhooks';
import { DLQ_KEY } from './dead-letters';

const PATH = '/events/ingest';

afterEach(async () => {
  await receiverBehaves(PATH, {});
});

async function deadLetteredIds(): Promise<string[]> {
  const all = (await store.hgetall<Record<string, { original?: { kind: string; event?: { id: string } } }>>(DLQ_KEY)) ?? {};
  return Object.values(all).flatMap((d) => (d.original?.kind === 'webhook' && d.original.event ? [d.original.event.id] : []));
}

describe('webhook ingest end to end', () => {
  it('processes every valid unique event exactly once or dead-letters it, across a backend outage', async () => {
    const N = 30;
    const events = Array.from({ length: N }, () => newEvent());
    const stats = { accepted: 0, duplicates: 0, refused: 0, forgeriesSent: 0, replaysSent: 0 };
    const sendValid = async (e: (typeof events)[number]) => {
      const res = await sendStandard(JSON.stringify(e), { msgId: e.id });
      if (res.status === 202) stats.accepted++;
      else if (res.status === 200) stats.duplicates++;
      else throw new Error(`valid event answered ${res.status}`);
    };
    const sendForgery = async (e: (typeof events)[number]) => {
      stats.forgeriesSent++;
      const forged = { ...e, id: `${e.id}_forged`, payload: { amount: 1_000_000 } };
      const res = await sendStandard(JSON.stringify(forged), { msgId: forged.id, secret: `whsec_${btoa('f'.repeat(32))}` });
      if (res.status === 401) stats.refused++;
    };
    const sendStaleReplay = async (e: (typeof events)[number]) => {
      stats.replaysSent++;
      const replay = { ...e, id: `${e.id}_replay` };
      // A genuine signature captured 10 minutes ago: outside the window.
      const at = new Date(Date.now() - 600_000);
      const res = await sendStandard(JSON.stringify(replay), {
        msgId: replay.id,
        at,
        headers: { 'webhook-signature': new Webhook(secrets.ingest[0]).sign(replay.id, at, JSON.stringify(replay)) },
      });
      if (res.status === 401) stats.refused++;
    };

    // Phase 1: backend up. Phase 2: backend down (connections dropped). Phase 3: back up.
    const phases = [events.slice(0, 10), events.slice(10, 20), events.slice(20)];
    for (const [i, phase] of phases.entries()) {
      if (i === 1) await receiverBehaves(PATH, { reset: true });
      if (i === 2) {
        // Down until at least one phase-2 event has exhausted its 3 attempts and reached the DLQ.
        const phase2 = phases[1]?.map((e) => e.id) ?? [];
        await vi.waitUntil(async () => (await deadLetteredIds()).some((id) => phase2.includes(id)), { timeout: 60_000, interval: 250 });
        await receiverBehaves(PATH, {});
      }
      for (const e of phase) {
        await sendValid(e);
        await sendValid(e); // duplicate: 200, not enqueued again
        if (Math.random() < 0.5) await sendForgery(e);
        await sendStaleReplay(e);
      }
    }

    const ids = events.map((e) => e.id);
    const settled = async () => {
      const forwarded = await forwardedIds(PATH);
      const dead = await deadLetteredIds();
      return ids.every((id) => forwarded.includes(id) || dead.includes(id));
    };
    await vi.waitUntil(settled, { timeout: 60_000, interval: 250 });
    // Let any wrongly duplicated copy arrive before counting.
    await new Promise((r) => setTimeout(r, 3_000));

    const forwarded = await forwardedIds(PATH);
    const dead = await deadLetteredIds();
    const processedOnce = ids.filter((id) => forwarded.filter((f) => f === id).length === 1).length;
    const processedTwice = ids.filter((id) => forwarded.filter((f) => f === id).length > 1).length;
    const inDlq = ids.filter((id) => dead.includes(id) && !forwarded.includes(id)).length;
    const bothPlaces = ids.filter((id) => dead.includes(id) && forwarded.includes(id)).length;
    const badForwarded = forwarded.filter((id) => id.endsWith('_forged') || id.endsWith('_replay')).length;
    console.warn(
      `exactly-once: ${N} valid events (${stats.accepted} accepted, ${stats.duplicates} duplicates answered 200), ` +
        `${stats.forgeriesSent} forgeries + ${stats.replaysSent} stale replays (${stats.refused} refused, ${badForwarded} forwarded); ` +
        `outcome: ${processedOnce} forwarded once + ${inDlq} in the DLQ = ${processedOnce + inDlq} of ${N}; ${processedTwice} forwarded twice, ${bothPlaces} in both`,
    );
    expect(stats.accepted).toBe(N);
    expect(stats.duplicates).toBe(N);
    expect(stats.refused).toBe(stats.forgeriesSent + stats.replaysSent);
    expect(badForwarded).toBe(0);
    expect(processedTwice).toBe(0);
    expect(bothPlaces).toBe(0);
    expect(processedOnce + inDlq).toBe(N);
    // The outage was long enough to dead-letter some events, and the phases around it were forwarded.
    expect(inDlq).toBeGreaterThan(0);
    expect(processedOnce).toBeGreaterThanOrEqual(20);

    // Redrive (what `gw dlq redrive` calls, with the operator credential: webhook letters belong to no tenant).
    const all = (await store.hgetall<Record<string, { original?: { kind: string; event?: { id: string } } }>>(DLQ_KEY)) ?? {};
    const letterIds = Object.entries(all)
      .filter(([, d]) => d.original?.event && ids.includes(d.original.event.id))
      .map(([id]) => id);
    const res = await SELF.fetch('https://gateway.test/v1/operator/dlq/redrive', {
      method: 'POST',
      headers: { authorization: `Bearer ${(env as { OPERATOR_TOKEN?: string }).OPERATOR_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ids: letterIds }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { redriven: string[] }).redriven).toHaveLength(inDlq);
    await vi.waitUntil(
      async () => {
        const f = await forwardedIds(PATH);
        return ids.every((id) => f.includes(id));
      },
      { timeout: 60_000, interval: 250 },
    );
    const after = await forwardedIds(PATH);
    console.warn(`after redrive: ${ids.filter((id) => after.filter((f) => f === id).length === 1).length} of ${N} forwarded exactly once`);
    expect(ids.every((id) => after.filter((f) => f === id).length === 1)).toBe(true);
  });
});
