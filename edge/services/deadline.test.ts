/** IdleWatch (pure logic on real timers): one timer for a stream, counting only the time spent waiting upstream. */
import { describe, expect, it } from 'vitest';
import { IdleWatch } from './deadline';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('IdleWatch', () => {
  it('fires once when a single wait reaches the limit', async () => {
    let fired = 0;
    const watch = new IdleWatch(60, () => fired++);
    watch.waiting();
    await sleep(30);
    expect(fired).toBe(0);
    await sleep(60);
    expect(fired).toBe(1);
    // Waiting again after it fired never fires a second time.
    watch.resumed();
    watch.waiting();
    await sleep(100);
    expect(fired).toBe(1);
    watch.stop();
  });

  it('does not add up short waits, nor count the time between them', async () => {
    let fired = 0;
    const watch = new IdleWatch(60, () => fired++);
    for (let i = 0; i < 6; i += 1) {
      // 30 ms waiting upstream, then 40 ms with the consumer: 420 ms in all, no wait of 60 ms.
      watch.waiting();
      await sleep(30);
      watch.resumed();
      await sleep(40);
    }
    expect(fired).toBe(0);
    watch.stop();
  });

  it('never fires once stopped', async () => {
    let fired = 0;
    const watch = new IdleWatch(30, () => fired++);
    watch.waiting();
    watch.stop();
    await sleep(60);
    watch.waiting();
    await sleep(60);
    expect(fired).toBe(0);
  });
});
