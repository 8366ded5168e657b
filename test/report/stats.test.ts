import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketedSum, cdfPoints, histogram, inFlightSeries, quantile, sortedFinite, spansDecades } from '../../src/report/stats.js';
import { Distribution } from '../../src/metrics/histogram.js';

test('quantile interpolates between order statistics; empty → undefined', () => {
  const v = Float64Array.from([1, 2, 3, 4]);
  assert.equal(quantile(v, 0), 1);
  assert.equal(quantile(v, 1), 4);
  assert.equal(quantile(v, 0.5), 2.5);
  assert.equal(quantile(new Float64Array(0), 0.5), undefined);
});

test('sortedFinite drops null, undefined, NaN and infinities and sorts', () => {
  assert.deepEqual([...sortedFinite([3, null, 1, undefined, NaN, Infinity, 2])], [1, 2, 3]);
});

test('cdfPoints keeps every point when small and bounds the count when large, keeping both ends', () => {
  const small = cdfPoints(Float64Array.from([1, 2, 3, 4]));
  assert.deepEqual(small, [
    { x: 1, y: 0.25 },
    { x: 2, y: 0.5 },
    { x: 3, y: 0.75 },
    { x: 4, y: 1 },
  ]);
  const n = 100_000;
  const big = Float64Array.from({ length: n }, (_, i) => i);
  const pts = cdfPoints(big, 600, 1000);
  assert.ok(pts.length <= 602 && pts.length > 500, `got ${pts.length}`);
  assert.deepEqual(pts[0], { x: 0, y: 1 / n });
  assert.deepEqual(pts[pts.length - 1], { x: (n - 1) * 1000, y: 1 });
  // the top 1% is densely sampled
  assert.ok(pts.filter((p) => p.y > 0.99).length > 100);
  for (let i = 1; i < pts.length; i++) assert.ok(pts[i]!.x > pts[i - 1]!.x && pts[i]!.y > pts[i - 1]!.y);
});

test('Distribution: weighted values give exact quantiles and CDF points; live mode is hdr within 0.1%', () => {
  const h = new Distribution();
  h.record(0.01, 90);
  h.record(0.1, 10);
  assert.equal(h.count, 100);
  assert.equal(h.percentile(50), 0.01);
  assert.equal(h.percentile(95), 0.1);
  const pts = h.cdfPoints();
  assert.equal(pts.length, 100);
  assert.deepEqual(pts[89], { x: 0.01, y: 0.9 });
  assert.deepEqual(pts[99], { x: 0.1, y: 1 });
  assert.equal(new Distribution().percentile(50), undefined);
  assert.deepEqual(new Distribution().cdfPoints(), []);

  const live = Distribution.live();
  for (let i = 1; i <= 1000; i++) live.record(i / 1000);
  assert.equal(live.approximate, true);
  assert.equal(live.count, 1000);
  assert.equal(live.max(), 1);
  assert.ok(Math.abs(live.mean()! - 0.5005) < 1e-12, String(live.mean()));
  const p99 = live.percentile(99)!;
  assert.ok(Math.abs(p99 / 0.99 - 1) < 1e-3, String(p99));
  assert.ok(live.percentile(100)! <= 1);
});

test('inFlightSeries is the exact time-weighted mean per slice', () => {
  // [0,10) and [5,10): slices of 5 s → 1 request, then 2
  const pts = inFlightSeries(
    [
      { start: 0, end: 10 },
      { start: 5, end: 10 },
    ],
    0,
    10,
    2,
  );
  assert.deepEqual(pts, [
    { x: 2.5, y: 1 },
    { x: 7.5, y: 2 },
  ]);
  // one request over [1, 9) in 4 slices of 2.5 s: 1.5/2.5, 1, 1, 1.5/2.5
  const q = inFlightSeries([{ start: 1, end: 9 }], 0, 10, 4);
  assert.deepEqual(
    q.map((p) => Math.round(p.y * 1000) / 1000),
    [0.6, 1, 1, 0.6],
  );
  assert.deepEqual(inFlightSeries([], 0, 10), []);
});

test('bucketedSum averages per series, carries values forward and sums across series; null breaks a series', () => {
  const series = new Map([
    [
      'a',
      [
        { t: 0, value: 100 },
        { t: 0.5, value: 300 },
      ],
    ],
    [
      'b',
      [
        { t: 1.5, value: 50 },
        { t: 2.5, value: null },
      ],
    ],
  ]);
  const pts = bucketedSum(series, 0, 4, 4);
  // slice 0: a=200; slice 1: a=200 (carried) + b=50; slice 2: a=200, b gap; slice 3: a=200
  assert.deepEqual(
    pts.map((p) => p.y),
    [200, 250, 200, 200],
  );
});

test('histogram: fractions sum to 1 and values above hi land in the last bin', () => {
  const h = histogram([0, 0.5, 1, 1.5, 10], 0, 2, 4);
  assert.deepEqual(h.edges, [0, 0.5, 1, 1.5, 2]);
  assert.deepEqual(h.fractions, [0.2, 0.2, 0.2, 0.4]);
  assert.equal(h.overflow, 1);
});

test('spansDecades decides the log axis', () => {
  assert.equal(spansDecades(0.01, 10), true);
  assert.equal(spansDecades(0.1, 10), false);
  assert.equal(spansDecades(0, 10), false);
});
