/** The sweep/provision search generators and rate parsing (pure logic). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drive, escalatingSearch, parseRates, sweepSearch } from '../../src/sim/index.js';
import { ConfigError } from '../../src/errors.js';

const threshold = (max: number) => async (rate: number) => ({ passed: rate <= max });

test('sweepSearch walks the coarse rates up to the first failure, then bisects to the tolerance', async () => {
  const { result, points } = await drive(sweepSearch([30, 40, 50, 60, 70], { tolerance: 0.02 }), threshold(47.3));
  assert.deepEqual(
    points.slice(0, 3).map((p) => p.rate),
    [30, 40, 50],
  );
  assert.ok(result.maxRate !== undefined && result.maxRate <= 47.3 && result.maxRate > 47.3 * 0.97, `maxRate ${result.maxRate}`);
  assert.ok(result.firstFail !== undefined && result.firstFail > 47.3);
  assert.ok(!points.some((p) => p.rate >= 60), 'no rate above the first failure is run');
});

test('sweepSearch: nothing passes, or everything passes', async () => {
  const none = await drive(sweepSearch([10, 20]), threshold(5));
  assert.equal(none.result.maxRate, undefined);
  assert.equal(none.result.firstFail, 10);
  assert.equal(none.points.length, 1);
  const all = await drive(sweepSearch([10, 20]), threshold(100));
  assert.equal(all.result.maxRate, 20);
  assert.equal(all.result.firstFail, undefined);
});

test('escalatingSearch grows until a failure, shrinks until a pass, then bisects', async () => {
  const up = await drive(escalatingSearch(2, { growth: 2, tolerance: 0.05, quantum: 0.1 }), threshold(13));
  assert.deepEqual(
    up.points.slice(0, 4).map((p) => p.rate),
    [2, 4, 8, 16],
  );
  assert.ok(up.result.maxRate! <= 13 && up.result.maxRate! >= 12.3, String(up.result.maxRate));
  const down = await drive(escalatingSearch(40, { growth: 2, tolerance: 0.05, quantum: 0.1 }), threshold(7));
  assert.deepEqual(
    down.points.slice(0, 4).map((p) => p.rate),
    [40, 20, 10, 5],
  );
  assert.ok(down.result.maxRate! <= 7 && down.result.maxRate! >= 6.6, String(down.result.maxRate));
  for (const p of [...up.points, ...down.points]) assert.equal(p.rate, Number(p.rate.toFixed(1)), `rate ${p.rate} is on the 0.1 grid`);
});

test('parseRates: LO:HI:STEP and comma lists; bad input names the flag', () => {
  assert.deepEqual(parseRates('30:60:10'), [30, 40, 50, 60]);
  assert.deepEqual(parseRates('0.5:1:0.25'), [0.5, 0.75, 1]);
  assert.deepEqual(parseRates('5, 1,3'), [1, 3, 5]);
  for (const bad of ['10:5:1', '1:5:0', 'a,b', '0,1', '']) {
    assert.throws(
      () => parseRates(bad),
      (e: unknown) => e instanceof ConfigError && /--rates/.test(e.message),
      bad,
    );
  }
});
