/** RealClock semantics the live server relies on: logical time in callbacks, monotonic now(), order, close. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventRank } from '../../src/engine/index.js';
import { RealClock } from '../../src/wallclock.js';

describe('RealClock', () => {
  it('inside a callback now() is the scheduled time, so a chain of iterations never drifts', async () => {
    const clock = new RealClock(1);
    const start = clock.now();
    let expected = start;
    const seen: [number, number][] = [];
    await new Promise<void>((resolve) => {
      let n = 0;
      const step = (): void => {
        seen.push([clock.now(), expected]);
        assert.ok(clock.realNow() >= clock.now(), 'a callback never runs before its time');
        if (++n === 10) {
          resolve();
          return;
        }
        expected = clock.now() + 0.003;
        clock.at(expected, step);
      };
      expected = start + 0.003;
      clock.at(expected, step);
    });
    for (const [got, want] of seen) assert.equal(got, want);
  });

  it('now() never goes backwards: a callback that runs after a later time was read sees that time', () => {
    const clock = new RealClock(1);
    let inCallback = -1;
    clock.at(0.001, () => (inCallback = clock.now()));
    const spinUntil = performance.now() + 15;
    while (performance.now() < spinUntil) {
      /* keep the event loop busy so the callback cannot run yet */
    }
    const outside = clock.now();
    assert.ok(outside > 0.001);
    return new Promise<void>((resolve) => {
      setTimeout(() => {
        assert.equal(inCallback, outside);
        resolve();
      }, 10);
    });
  });

  it('runs same-time callbacks by rank, then in scheduling order; close() stops the rest', async () => {
    const clock = new RealClock(10);
    const order: string[] = [];
    const t = clock.now() + 0.02;
    clock.at(t, () => order.push('sample'), EventRank.sample);
    clock.at(t, () => order.push('arrival-1'), EventRank.arrival);
    clock.at(t, () => order.push('completion'), EventRank.completion);
    clock.at(t, () => order.push('arrival-2'), EventRank.arrival);
    clock.at(t + 1000, () => order.push('never'));
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(order, ['completion', 'arrival-1', 'arrival-2', 'sample']);
    assert.equal(clock.pending(), 1);
    clock.close();
    clock.at(clock.now(), () => order.push('after close'));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(order.length, 4);
  });
});
