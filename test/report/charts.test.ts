/**
 * The pure pieces of the charts: seed series, mean/min/max, SLO attainment and its limits, log ticks,
 * the CDF's first step, SLO values with units, --seeds parsing, and the encodings (pools never take a run
 * colour, pass/FAIL are not run colours).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChartConfiguration } from 'chart.js';
import { agg, attainment, CHARTS, logTick, requestLimits, seriesOf, sloValueText, type ChartInput } from '../../src/report/charts.js';
import type { RequestPoint, RunData } from '../../src/report/data.js';
import { FAIL_FILL, OKABE_ITO, PASS_FILL, poolDash, poolFill } from '../../src/report/style.js';
import { parseSeeds } from '../../src/sim/options.js';
import { parseSlo } from '../../src/metrics/index.js';
import { Distribution } from '../../src/metrics/histogram.js';

const NAN = Number.NaN;
function req(o: Partial<RequestPoint>): RequestPoint {
  return {
    ok: true,
    send: 0,
    scheduled: 0,
    promptTokens: 100,
    ttft: NAN,
    tpot: NAN,
    tbt: NAN,
    e2e: NAN,
    kvTransfer: NAN,
    sTtft: NAN,
    sTpot: NAN,
    sTbt: NAN,
    sE2e: NAN,
    ...o,
  };
}

/** A minimal RunData: only what the code under test reads. */
function run(id: number, label: string, groupKey: string, o: { requests?: RequestPoint[]; ttft?: number[]; reference?: string } = {}): RunData {
  const ttft = Float64Array.from(o.ttft ?? []).sort();
  return {
    info: { id, name: label, kind: 'sim', status: 'completed', deployment: 'd', offeredRate: null, options: {}, notes: {} },
    record: undefined,
    groupKey,
    sweepKey: groupKey,
    reference: o.reference,
    requests: o.requests ?? [],
    index: id - 1,
    label,
    ttft,
    tpot: new Float64Array(0),
    e2e: new Float64Array(0),
    tbt: new Distribution(),
    lag: new Float64Array(0),
    intervals: [],
    spanS: 0,
    breakdown: { requests: 0, queue: 0, prefill: 0, ttftOverhead: 0, kvTransfer: 0, decodeWait: 0, secondOverhead: 0 },
    timeline: new Map(),
    power: new Map(),
    machines: [],
    slo: [],
    counts: { total: 0, ok: 0, warmup: 0, outputTokens: 0, inputTokens: 0 },
  } as unknown as RunData;
}

test('agg: mean, min and max of the defined values; undefined when none', () => {
  assert.deepEqual(agg([2, undefined, 4, NaN]), { mean: 3, min: 2, max: 4, n: 2 });
  assert.equal(agg([undefined]), undefined);
});

test('seriesOf groups runs that differ only by seed, names the group without the seed suffix, colours by group order', () => {
  const runs = [run(1, 'mono-s0', 'A'), run(2, 'split-s0', 'B'), run(3, 'mono-s1', 'A'), run(4, 'Other seed 2', 'C'), run(5, 'Other seed 3', 'C')];
  const s = seriesOf({ runs, summaries: runs.map(() => ({ requests: 0, ok: 0, failed: 0 })) });
  assert.deepEqual(
    s.map((x) => [x.label, x.runs.map((r) => r.info.id)]),
    [
      ['mono (2 seeds)', [1, 3]],
      ['split-s0', [2]],
      ['Other (2 seeds)', [4, 5]],
    ],
  );
  assert.deepEqual(
    s.map((x) => x.color),
    [OKABE_ITO[0], OKABE_ITO[1], OKABE_ITO[2]],
  );
  // a name like "runs 3" is not a seed suffix
  const t = seriesOf({
    runs: [run(1, 'runs 3', 'A'), run(2, 'runs 4', 'A')],
    summaries: [
      { requests: 0, ok: 0, failed: 0 },
      { requests: 0, ok: 0, failed: 0 },
    ],
  });
  assert.equal(t[0]!.label, 'runs 3 +1 (2 seeds)');
});

test('requestLimits: per_request rules when the file has them, else the highest-percentile limit per metric', () => {
  const withPer = parseSlo('name: a\nrules:\n  - ttft.p99 <= 2s\nper_request:\n  - ttft <= 1s\n  - e2e <= 10s\n', 'a.yaml');
  assert.deepEqual(
    requestLimits(withPer).map((l) => [l.metric, l.op, l.limit]),
    [
      ['ttft', '<=', 1],
      ['e2e', '<=', 10],
    ],
  );
  const sw = parseSlo('name: s\nrules:\n  - slowdown.ttft.p50 < 2\n  - slowdown.ttft.p99 < 6\n  - slowdown.ttft.p90 < 3\n  - tpot.p50 <= 50ms\n', 's.yaml');
  assert.deepEqual(
    requestLimits(sw).map((l) => [l.metric, l.op, l.limit]),
    [
      ['slowdown.ttft', '<', 6],
      ['tpot', '<=', 0.05],
    ],
  );
});

test('attainment: completed requests meeting every limit × scale over all requests; no reference → undefined for slowdown limits', () => {
  const limits = [{ metric: 'ttft', op: '<=' as const, limit: 1, text: '' }];
  const r = run(1, 'a', 'A', { requests: [req({ ttft: 0.5 }), req({ ttft: 1.5 }), req({ ttft: 0.9 }), req({ ok: false, ttft: 0.1 })] });
  assert.equal(attainment(r, limits), 2 / 4);
  assert.equal(attainment(r, limits, 2), 3 / 4, 'limits ×2 let the 1.5 s request in; the failed one never attains');
  assert.equal(attainment(r, limits, 0.5), 1 / 4);
  const slow = [{ metric: 'slowdown.e2e', op: '<' as const, limit: 2, text: '' }];
  assert.equal(attainment(r, slow), undefined, 'no reference machine: slowdowns unknown');
  const withRef = run(2, 'b', 'B', { reference: 'x', requests: [req({ sE2e: 1.5 }), req({ sE2e: 2.5 })] });
  assert.equal(attainment(withRef, slow), 0.5);
});

test('logTick: 1-2-5 marks within three decades, powers of ten beyond, exponents far from 1', () => {
  assert.deepEqual(
    [1, 2, 3, 5, 10].map((v) => logTick(v, 2)),
    ['1', '2', '', '5', '10'],
  );
  assert.deepEqual(
    [1, 2, 5, 10].map((v) => logTick(v, 6)),
    ['1', '', '', '10'],
  );
  assert.equal(logTick(1e-5, 6), '1e-5');
});

test('a CDF starts at 0 even when ties at the minimum hold 30% of the values; seed bands are unlabelled', () => {
  const runs = [
    run(1, 'x', 'A', { ttft: [0.1, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8] }),
    run(2, 'y-s0', 'B', { ttft: [0.1, 0.2, 0.3] }),
    run(3, 'y-s1', 'B', { ttft: [0.2, 0.3, 0.4] }),
  ];
  const input: ChartInput = { runs, summaries: runs.map(() => ({ requests: 0, ok: 0, failed: 0 })), sloLimits: [] };
  const res = CHARTS.find((c) => c.name === 'cdf-ttft')!.build(input);
  assert.ok('spec' in res && res.spec.kind === 'chartjs');
  const ds = (res.spec.config as ChartConfiguration<'line', { x: number; y: number }[]>).data.datasets;
  const lines = ds.filter((d) => d.label);
  assert.deepEqual(
    lines.map((d) => d.label),
    ['x', 'y (2 seeds)'],
  );
  for (const d of lines) assert.deepEqual(d.data[0], { x: d.data[0]!.x, y: 0 }, `${d.label} starts at y = 0`);
  assert.equal(Math.max(...lines[0]!.data.filter((p) => p.x === lines[0]!.data[0]!.x).map((p) => p.y)), 0.3, 'a vertical step at the minimum up to the ties');
  assert.equal(ds.length, 4, 'x, and y with its two band edges');
  // the CSV of the seed series: mean, min and max of the two runs' quantiles (ms)
  const row = res.csv.rows.find((r) => r[0] === 'y (2 seeds)' && r[2] === 0.5)!;
  assert.deepEqual(row.slice(3), [250, 200, 300]);
});

test('SLO values carry their units', () => {
  assert.equal(sloValueText('ttft.p99', 0.0755), '75.5 ms');
  assert.equal(sloValueText('e2e.p50', 12.5), '12.5 s');
  assert.equal(sloValueText('slowdown.tbt.p50', 1.234), '1.23×');
  assert.equal(sloValueText('goodput', 3), '3 req/s');
});

test('pools and pass/FAIL never take a run colour', () => {
  const runColours = new Set<string>(OKABE_ITO);
  for (const p of ['mixed', 'prompt', 'token', 'other']) assert.ok(!runColours.has(poolFill(p)), `${p} fill`);
  assert.notDeepEqual(poolDash('prompt'), poolDash('token'));
  assert.ok(!runColours.has(PASS_FILL) && !runColours.has(FAIL_FILL));
  assert.equal(poolFill('prompt'), poolFill('prompt', ['zeta', 'prompt']), 'a known pool keeps its look whatever else is there');
});

test('--seeds: a count from --seed, or a list; bad input names the flag', () => {
  assert.deepEqual(parseSeeds('3', 0), [0, 1, 2]);
  assert.deepEqual(parseSeeds('2', 7), [7, 8]);
  assert.deepEqual(parseSeeds('4,1,9', 0), [4, 1, 9]);
  assert.equal(parseSeeds(undefined, 0), undefined);
  assert.throws(() => parseSeeds('0', 0), /--seeds: a count of runs between 1 and 1000/);
  assert.throws(() => parseSeeds('1,x', 0), /--seeds: 'x' is not a non-negative integer/);
  assert.throws(() => parseSeeds('2,2', 0), /seed listed twice/);
});
