import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lagSeconds, Sleeper, targetMs, traceSeconds } from '../../src/load/schedule.js';

test('targets come from t0 and the schedule, scaled by the time scale; lag is in trace seconds', () => {
  assert.equal(targetMs(1000, 2, 1), 3000);
  assert.equal(targetMs(1000, 2, 10), 1200); // 2 trace seconds at ×10 = 200 ms of wall time
  assert.equal(traceSeconds(1000, 1200, 10), 2);
  assert.equal(lagSeconds(1201, 1200, 10), 0.01); // 1 ms late at ×10 = 10 ms of trace time
  // The i-th target does not depend on when earlier requests were sent: no drift.
  const t0 = 500;
  const arrivals = [0, 0.1, 0.1, 0.25, 7];
  const targets = arrivals.map((a) => targetMs(t0, a, 4));
  assert.deepEqual(targets, [500, 525, 525, 562.5, 2250]);
});

test('the sleeper never wakes before its target, and wake() ends a sleep early', async () => {
  const s = new Sleeper();
  for (const d of [0, 0.3, 1.5, 3, 12]) {
    const target = performance.now() + d;
    const woken = await s.until(target);
    assert.equal(woken, false);
    assert.ok(performance.now() >= target);
  }
  const far = performance.now() + 60_000;
  const p = s.until(far);
  setTimeout(() => s.wake(), 5);
  assert.equal(await p, true);
  assert.ok(performance.now() < far);
});
