/** LingerBatcher: pure logic (timers only), with a recording `send`. */
import { describe, expect, it } from 'vitest';
import { LingerBatcher } from './linger-batch';

function recorder() {
  const sent: Array<{ key: string; items: readonly number[] }> = [];
  return { sent, sendFor: (key: string) => async (items: readonly number[]) => void sent.push({ key, items }) };
}

describe('LingerBatcher', () => {
  it('sends what is added within the linger once, from the call that opened the batch', async () => {
    const { sent, sendFor } = recorder();
    const batcher = new LingerBatcher<number>(30, 10);
    const opened = batcher.add('k', 1, sendFor('k'));
    expect(opened).toBeInstanceOf(Promise);
    expect(batcher.add('k', 2, sendFor('k'))).toBeUndefined();
    expect(batcher.add('k', 3, sendFor('k'))).toBeUndefined();
    expect(sent).toEqual([]);
    await opened;
    expect(sent).toEqual([{ key: 'k', items: [1, 2, 3] }]);
    // The next item opens a new batch.
    const next = batcher.add('k', 4, sendFor('k'));
    expect(next).toBeInstanceOf(Promise);
    await next;
    expect(sent.map((s) => s.items)).toEqual([[1, 2, 3], [4]]);
  });

  it('sends a full batch at once from the call that filled it, and the opener then sends nothing', async () => {
    const { sent, sendFor } = recorder();
    const batcher = new LingerBatcher<number>(50, 3);
    const opened = batcher.add('k', 1, sendFor('opener'));
    expect(batcher.add('k', 2, sendFor('second'))).toBeUndefined();
    const filled = batcher.add('k', 3, sendFor('filler'));
    expect(filled).toBeInstanceOf(Promise);
    await filled;
    expect(sent).toEqual([{ key: 'filler', items: [1, 2, 3] }]);
    // A new batch opened after the full one left is sent by its own opener, not the first one's linger.
    const reopened = batcher.add('k', 4, sendFor('reopener'));
    await opened;
    expect(sent).toEqual([{ key: 'filler', items: [1, 2, 3] }]);
    await reopened;
    expect(sent).toEqual([
      { key: 'filler', items: [1, 2, 3] },
      { key: 'reopener', items: [4] },
    ]);
  });

  it('tells a joining call when its batch has been sent, by the opener or by the call that filled it', async () => {
    const events: string[] = [];
    const slowSend = (label: string) => async (items: readonly number[]) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      events.push(`${label} sent ${items.join(',')}`);
    };
    const batcher = new LingerBatcher<number>(30, 3);
    expect(batcher.whenSent('k')).toBeUndefined();
    const opened = batcher.add('k', 1, slowSend('opener'));
    expect(batcher.add('k', 2, slowSend('joiner'))).toBeUndefined();
    void batcher.whenSent('k')!.then(() => events.push('joiner told'));
    await opened;
    await Promise.resolve();
    expect(events).toEqual(['opener sent 1,2', 'joiner told']);
    // Filled before the linger: the filler sends, and the joiners are told once its send is done.
    events.length = 0;
    const reopened = batcher.add('k', 3, slowSend('opener'));
    expect(batcher.add('k', 4, slowSend('joiner'))).toBeUndefined();
    void batcher.whenSent('k')!.then(() => events.push('joiner told'));
    await batcher.add('k', 5, slowSend('filler'));
    await Promise.resolve();
    expect(events).toEqual(['filler sent 3,4,5', 'joiner told']);
    await reopened;
    expect(events).toEqual(['filler sent 3,4,5', 'joiner told']);
    expect(batcher.whenSent('k')).toBeUndefined();
  });

  it('keeps keys apart, and a batch of one item max leaves at once', async () => {
    const { sent, sendFor } = recorder();
    const batcher = new LingerBatcher<number>(10, 5);
    await Promise.all([batcher.add('a', 1, sendFor('a')), batcher.add('b', 2, sendFor('b')), batcher.add('a', 3, sendFor('a'))]);
    expect(sent.sort((x, y) => x.key.localeCompare(y.key))).toEqual([
      { key: 'a', items: [1, 3] },
      { key: 'b', items: [2] },
    ]);
    const single = new LingerBatcher<number>(10_000, 1);
    const started = Date.now();
    await single.add('x', 9, sendFor('x'));
    expect(sent.at(-1)).toEqual({ key: 'x', items: [9] });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(() => new LingerBatcher<number>(10, 0)).toThrow(/maxItems/);
  });
});
