import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareMetric, compareSummaries, sloMoves } from '../../src/report/compare.js';
import { SUMMARY_METRICS, fmtMetric } from '../../src/report/summary.js';

const d = (key: string) => SUMMARY_METRICS.find((m) => m.key === key)!;

test('lower-is-better metrics: a drop is better, a rise is worse', () => {
  const m = compareMetric(d('ttftP99S'), 2, 1);
  assert.equal(m.ratio, 0.5);
  assert.equal(m.arrow, '↓');
  assert.equal(m.verdict, 'better');
  assert.equal(compareMetric(d('ttftP99S'), 1, 2).verdict, 'worse');
});

test('higher-is-better metrics: a rise is better', () => {
  const m = compareMetric(d('throughputRps'), 10, 12);
  assert.equal(m.arrow, '↑');
  assert.equal(m.verdict, 'better');
  assert.equal(compareMetric(d('goodputRps'), 10, 8).verdict, 'worse');
});

test('within 0.5% counts as the same; missing values and 0 baselines have no ratio', () => {
  assert.equal(compareMetric(d('ttftP99S'), 1, 1.004).verdict, 'same');
  assert.equal(compareMetric(d('ttftP99S'), 1, undefined).verdict, 'n/a');
  const z = compareMetric(d('failed'), 0, 3);
  assert.equal(z.ratio, null);
  assert.equal(z.verdict, 'worse');
  assert.equal(compareMetric(d('requests'), 100, 200).verdict, 'n/a');
});

test('compareSummaries leaves out metrics neither run has', () => {
  const rows = compareSummaries({ requests: 10, ok: 10, failed: 0, ttftP99S: 1 }, { requests: 10, ok: 9, failed: 1, ttftP99S: 2 });
  assert.deepEqual(
    rows.map((r) => r.key),
    ['requests', 'ok', 'failed', 'ttftP99S'],
  );
});

test('sloMoves finds regressions, fixes and one-sided rules', () => {
  const a = [
    { sloFile: 's.yaml', rule: 'ttft.p99 <= 2s', passed: true },
    { sloFile: 's.yaml', rule: 'tbt.p99 <= 100ms', passed: false },
    { sloFile: 's.yaml', rule: 'only in a', passed: true },
  ];
  const b = [
    { sloFile: 's.yaml', rule: 'ttft.p99 <= 2s', passed: false },
    { sloFile: 's.yaml', rule: 'tbt.p99 <= 100ms', passed: true },
    { sloFile: 's.yaml', rule: 'only in b', passed: false },
  ];
  assert.deepEqual(
    sloMoves(a, b).map((m) => m.change),
    ['pass→fail', 'fail→pass', 'only-a', 'only-b'],
  );
});

test('fmtMetric picks ms below a second and units per metric', () => {
  assert.equal(fmtMetric(d('ttftP99S'), 0.0123), '12.3 ms');
  assert.equal(fmtMetric(d('ttftP99S'), 2.5), '2.5 s');
  assert.equal(fmtMetric(d('costPer1MOutputUsd'), 14.71), '$14.7');
  assert.equal(fmtMetric(d('energyPerOutputTokenJ'), undefined), '-');
});
