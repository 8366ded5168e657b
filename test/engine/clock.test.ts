import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventRank, VirtualClock } from '../../src/engine/clock.js';
import { RealClock } from '../../src/wallclock.js';

test('VirtualClock orders same-time events by rank, then by scheduling order', () => {
  const c = new VirtualClock();
  const seen: string[] = [];
  c.at(1, () => seen.push('arrival-a'), EventRank.arrival);
  c.at(1, () => seen.push('sample'), EventRank.sample);
  c.at(1, () => seen.push('completion'), EventRank.completion);
  c.at(1, () => seen.push('arrival-b'), EventRank.arrival);
  c.at(0.5, () => seen.push('earlier'), EventRank.sample);
  c.at(1, () => seen.push('internal'), EventRank.internal);
  c.run();
  assert.deepEqual(seen, ['earlier', 'completion', 'internal', 'arrival-a', 'arrival-b', 'sample']);
  assert.equal(c.now(), 1);
});

test('VirtualClock at(now) never runs inline and cancelled events do not run', () => {
  const c = new VirtualClock();
  const seen: string[] = [];
  c.at(2, () => {
    c.at(c.now(), () => seen.push('follow-up'));
    seen.push('first');
  });
  const h = c.at(2, () => seen.push('cancelled'));
  h.cancel();
  assert.equal(c.pending(), 1);
  c.run();
  assert.deepEqual(seen, ['first', 'follow-up']);
  assert.equal(c.pending(), 0);
});

test('VirtualClock.run(until) stops before later events and advances time', () => {
  const c = new VirtualClock();
  let ran = 0;
  c.at(5, () => ran++);
  c.run(3);
  assert.equal(ran, 0);
  assert.equal(c.now(), 3);
  c.run();
  assert.equal(ran, 1);
  assert.equal(c.now(), 5);
});

test('VirtualClock.advance moves time only when nothing is due by then, and never past run(until)', () => {
  const c = new VirtualClock();
  const seen: string[] = [];
  c.at(2, () => seen.push('two'), EventRank.sample);
  c.at(1, () => {
    assert.equal(c.advance(1.5), true, 'nothing due by 1.5');
    assert.equal(c.now(), 1.5);
    assert.equal(c.advance(2), false, 'an event is due at 2 (any rank)');
    assert.equal(c.advance(1.25), false, 'never backwards');
    assert.equal(c.now(), 1.5);
    seen.push('one');
  });
  c.run();
  assert.deepEqual(seen, ['one', 'two']);
  const d = new VirtualClock();
  d.at(1, () => {
    assert.equal(d.advance(4), false, 'past run(3)');
    assert.equal(d.advance(3), true);
  });
  d.run(3);
  assert.equal(d.now(), 3);
  const e = new VirtualClock();
  const h = e.at(2, () => {});
  h.cancel();
  e.at(1, () => assert.equal(e.advance(2.5), true, 'a cancelled event does not hold time back'));
  e.run();
});

test('RealClock runs callbacks in time order, scaled, and not inline', async () => {
  const c = new RealClock(100); // 100 engine seconds per wall second
  const seen: string[] = [];
  const done = new Promise<void>((resolve) => {
    c.at(2, () => {
      seen.push('b');
      resolve();
    });
    c.at(1, () => seen.push('a'));
    c.at(0, () => seen.push('now'));
  });
  assert.deepEqual(seen, []);
  await done;
  assert.deepEqual(seen, ['now', 'a', 'b']);
  assert.ok(c.now() >= 2);
  c.close();
});
