import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeTraceStats } from '../../src/trace/index.js';
import { fromArray, req } from './helpers.js';

test('counts, span, rates, inter-arrival, peaks and token percentiles', async () => {
  // 10 requests in the first second, then one every 2 s until 61 s
  const rs = [...Array.from({ length: 10 }, (_, i) => req(i * 0.1, 100 * (i + 1), i + 1)), ...Array.from({ length: 31 }, (_, i) => req(1 + 2 * i, 5000, 100))];
  const s = await computeTraceStats(fromArray(rs));
  assert.equal(s.requests, 41);
  assert.equal(s.spanS, 61);
  assert.ok(Math.abs(s.meanRatePerS - 41 / 61) < 1e-12);
  assert.ok(Math.abs(s.interArrival.meanS - 61 / 40) < 1e-12);
  assert.equal(s.peakPerSecond, 10);
  assert.equal(s.peakPerMinute, 40); // [0, 60): 10 + 30
  assert.equal(s.promptTokens.max, 5000);
  assert.equal(s.promptTokens.p50, 5000);
  assert.equal(s.outputTokens.p90, 100);
  assert.equal(s.promptTokens.total, 5500 + 31 * 5000);
  assert.equal(s.interArrival.medianS, 2);
  assert.equal(s.approximate, false);
  assert.ok(s.interArrival.cv > 0.5);
  assert.deepEqual(s.warnings, []);
});

test('exact percentiles for token counts (odd count: the middle value)', async () => {
  const vals = [7437, 1, 13, 1469, 1470, 1468, 99, 100000, 5];
  const s = await computeTraceStats(fromArray(vals.map((v, i) => req(i, v, v))));
  assert.equal(s.promptTokens.p50, 1468);
  assert.equal(s.promptTokens.max, 100000);
  assert.equal(s.outputTokens.p99, 100000);
});

test('the median gap is exact, a gap of the trace, not a 3-digit histogram value', async () => {
  // Gaps 0.0638127 s (x5) and 1 s (x4): the median is the 5th smallest gap, exactly.
  const gaps = [1, 0.0638127, 1, 0.0638127, 0.0638127, 1, 0.0638127, 1, 0.0638127];
  let t = 0;
  const rs = [req(0, 10, 1), ...gaps.map((g) => req((t += g), 10, 1))];
  const s = await computeTraceStats(fromArray(rs));
  // Exact up to the float error of re-subtracting arrivals (~1e-17), where the histogram was 6e-6 off.
  assert.ok(Math.abs(s.interArrival.medianS - 0.0638127) < 1e-12, `median ${s.interArrival.medianS}`);
  assert.equal(s.approximate, false);
});

test('quantised arrivals (Mooncake-style: ~10 requests per 3-second tick) are detected and the tick named', async () => {
  const rs = Array.from({ length: 300 }, (_, i) => req(3 * Math.floor(i / 10), 10, 1));
  const s = await computeTraceStats(fromArray(rs));
  assert.equal(s.quantisation.tickS, 3);
  assert.ok(Math.abs(s.quantisation.requestsPerTimestamp - 10) < 1e-9);
  assert.equal(s.warnings.length, 1);
  assert.match(s.warnings[0]!, /quantised: 90% .*10\.0 requests per distinct timestamp.*3 s tick/);
  const smooth = await computeTraceStats(fromArray(Array.from({ length: 300 }, (_, i) => req(i * 0.37 + (i % 7) * 0.011, 10, 1))));
  assert.deepEqual(smooth.warnings, []);
});

test('empty and single-request streams', async () => {
  const e = await computeTraceStats(fromArray([]));
  assert.equal(e.requests, 0);
  assert.equal(e.meanRatePerS, 0);
  const one = await computeTraceStats(fromArray([req(0, 5, 6)]));
  assert.equal(one.requests, 1);
  assert.equal(one.promptTokens.p50, 5);
  assert.equal(one.peakPerSecond, 1);
});
