import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PiecewiseLinear, fitLine, median, nelderMead } from '../../../src/engine/perf/interp.js';

test('piecewise-linear: exact at the knots, linear between them', () => {
  const f = new PiecewiseLinear([100, 200, 400], [10, 30, 40]);
  assert.equal(f.at(100), 10);
  assert.equal(f.at(200), 30);
  assert.equal(f.at(400), 40);
  assert.equal(f.at(150), 20);
  assert.equal(f.at(300), 35);
  assert.equal(f.at(250), 32.5);
});

test('piecewise-linear: linear extrapolation with the end segments, constant for one point', () => {
  const f = new PiecewiseLinear([100, 200, 400], [10, 30, 40]);
  assert.equal(f.at(50), 0); // slope 0.2 of the first segment
  assert.equal(f.at(0), -10);
  assert.equal(f.at(600), 50); // slope 0.05 of the last segment
  assert.equal(new PiecewiseLinear([5], [7]).at(1000), 7);
  assert.throws(() => new PiecewiseLinear([1, 1], [2, 3]), RangeError);
  assert.throws(() => new PiecewiseLinear([2, 1], [2, 3]), RangeError);
  assert.throws(() => new PiecewiseLinear([], []), RangeError);
});

test('median, least-squares line and the minimiser', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
  const l = fitLine([0, 1, 2, 3], [1, 3, 5, 7]);
  assert.ok(Math.abs(l.slope - 2) < 1e-12 && Math.abs(l.intercept - 1) < 1e-12);
  const r = nelderMead((x) => (x[0]! - 3) ** 2 + (x[1]! + 1) ** 2, [0, 0]);
  assert.ok(Math.abs(r.x[0]! - 3) < 1e-4 && Math.abs(r.x[1]! + 1) < 1e-4, String(r.x));
});
