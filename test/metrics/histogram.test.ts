import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom as rng } from '../../src/engine/schedulers.js';
import { Distribution, ExactBudget, percentileOfSorted } from '../../src/metrics/histogram.js';

/** What a distribution must equal: the values sorted by the built-in sort, Neumaier-summed in that order. */
function reference(values: readonly number[]): { count: number; mean: number; max: number; p: number[] } {
  const x = Float64Array.from(values).sort();
  let sum = 0;
  let comp = 0;
  for (const v of x) {
    const t = sum + v;
    comp += Math.abs(sum) >= Math.abs(v) ? sum - t + v : v - t + sum;
    sum = t;
  }
  const ps = [0, 50, 90, 95, 99, 99.9, 100];
  return {
    count: x.length,
    mean: (sum + comp) / x.length,
    max: x[x.length - 1]!,
    p: [...ps.map((p) => percentileOfSorted(x, p, 'linear')), ...ps.map((p) => percentileOfSorted(x, p, 'nearest-rank'))],
  };
}

function observed(d: Distribution): { count: number; mean: number; max: number; p: number[] } {
  const ps = [0, 50, 90, 95, 99, 99.9, 100];
  const s = d.stats()!;
  assert.equal(s.approximate, undefined);
  return {
    count: s.count,
    mean: s.mean,
    max: s.max,
    p: [...ps.map((p) => d.percentile(p, 'linear')!), ...ps.map((p) => d.percentile(p, 'nearest-rank')!)],
  };
}

test('the radix sort gives the built-in order: percentiles, mean and max to the bit', () => {
  const r = rng(7);
  for (const n of [1, 5, 2047, 2048, 50_000, 300_000]) {
    const values: number[] = [];
    // Spread over many binades, with zeros, ties, tiny and huge values.
    for (let i = 0; i < n; i++) {
      const u = r();
      values.push(u < 0.05 ? 0 : u < 0.1 ? 0.25 : r() * 10 ** Math.floor(r() * 12 - 6));
    }
    const d = new Distribution();
    for (const v of values) d.record(v);
    assert.deepEqual(observed(d), reference(values), `n = ${n}`);
  }
});

test('a population of few distinct values takes the counted form and reads the same', () => {
  const r = rng(11);
  const distinct = Array.from({ length: 3000 }, () => Math.round(r() * 1e6) / 1e6 / 7);
  const values: number[] = [];
  const d = new Distribution();
  // Past two compaction batches, with weighted records (chunks of several tokens) and a value past all runs.
  for (let i = 0; values.length < 2 ** 21 + 12_345; i++) {
    const v = distinct[Math.floor(r() * distinct.length)]!;
    const k = i % 97 === 0 ? 3 : 1;
    d.record(v, k);
    for (let j = 0; j < k; j++) values.push(v);
  }
  d.record(99);
  values.push(99);
  assert.ok(d.entries < values.length / 100, `counted: ${d.entries} units for ${values.length} values`);
  assert.deepEqual(observed(d), reference(values));
  // Merging keeps it exact both ways: counted into plain and plain into counted.
  const small = new Distribution();
  for (const v of [0.5, 1e-3, 0]) small.record(v);
  assert.deepEqual(observed(new Distribution().merge(small).merge(d)), reference([0.5, 1e-3, 0, ...values]));
  assert.deepEqual(observed(d.merge(small)), reference([...values, 0.5, 1e-3, 0]));
});

test('a shared budget moves its largest distributions to hdr histograms, the last-made on a tie', () => {
  const budget = new ExactBudget(300);
  const [a, b, c] = [new Distribution(budget), new Distribution(budget), new Distribution(budget)];
  for (let i = 1; i <= 100; i++) for (const d of [a, b, c]) d.record(i / 1000);
  assert.equal(budget.used, 300);
  assert.ok(!a.approximate && !b.approximate && !c.approximate);
  a.record(0.5);
  assert.deepEqual([a.approximate, b.approximate, c.approximate], [false, false, true], 'the tie goes to the last made');
  assert.equal(budget.used, 201);
  const s = c.stats()!;
  assert.match(s.approximate!, /hdr histogram, 3 significant digits/);
  assert.equal(s.count, 100);
  assert.equal(s.max, 0.1);
  for (let i = 0; i < 100; i++) b.record(0.2);
  assert.deepEqual([a.approximate, b.approximate], [false, true], 'b grew the largest');
  assert.equal(b.count, 200);
  assert.equal(budget.used, 101);
});

test('a counted distribution moved to its histogram (directly, by a merge, by its budget) takes more values there', () => {
  /** 2^20 + 3 values of `distinct` distinct ones (≥ 1): the counted form. */
  const counted = (distinct: number, budget?: ExactBudget): Distribution => {
    const d = budget ? new Distribution(budget) : new Distribution();
    for (let i = 0; i < 2 ** 20 + 3; i++) d.record(1 + (i % distinct) / distinct);
    assert.ok(d.entries < 2 ** 20 && !d.approximate, `counted (${d.entries} units)`);
    return d;
  };
  const more = (d: Distribution, what: string): void => {
    assert.ok(d.approximate, `${what}: approximate`);
    const n = d.count;
    d.record(0.25);
    d.record(3, 5);
    assert.equal(d.count, n + 6, `${what}: counted`);
    assert.equal(d.max(), 3, `${what}: max`);
  };
  const direct = counted(7);
  direct.moveToHistogram();
  more(direct, 'moved');
  const merged = counted(7);
  const live = Distribution.live();
  live.record(2);
  merged.merge(live);
  more(merged, 'merged with a histogram');
  // The run summary's case: a counted distribution of many distinct values (a 2^18-slot table, 2^19 units),
  // made after a plain one of about its size; when the plain one fills the budget, the counted one (made
  // last, at least half the largest) moves.
  const budget = new ExactBudget(2 ** 20 + 40);
  const plain = new Distribution(budget);
  const big = counted(100_000, budget);
  assert.equal(budget.used, big.entries, 'the budget holds the table, not the values it replaced');
  for (let i = 0; !big.approximate && i < 2 ** 20; i++) plain.record(i);
  assert.ok(!plain.approximate, 'the plain one stays exact');
  more(big, 'moved by its budget');
});

test('a merge that grows a counted table is told to the budget once', () => {
  // Two counted distributions of 5,000 distinct values each (16,384-slot tables) in one budget: the merge
  // grows the first one's table (10,000 distinct values), and the budget holds what the two hold, no more.
  const budget = new ExactBudget(2 ** 24);
  const counted = (offset: number): Distribution => {
    const d = new Distribution(budget);
    for (let i = 0; i < 2 ** 20 + 3; i++) d.record(offset + (i % 5000) / 5000);
    return d;
  };
  const a = counted(1);
  const b = counted(2);
  const units = a.entries;
  assert.equal(budget.used, a.entries + b.entries, 'before the merge');
  a.merge(b);
  assert.ok(a.entries > units, `the table grew (${units} → ${a.entries} units)`);
  assert.equal(budget.used, a.entries + b.entries, 'after the merge');
  assert.equal(a.count, 2 * (2 ** 20 + 3));
});

test('the counted form gives up for many distinct values: written out again, still exact', () => {
  const r = rng(5);
  // All distinct from the start: the table gives up while it is filled.
  const spread = Array.from({ length: 2 ** 20 + 5 }, () => r());
  const a = new Distribution();
  for (const v of spread) a.record(v);
  assert.equal(a.entries, spread.length, 'plain: one unit a value');
  assert.deepEqual(observed(a), reference(spread));
  // Few distinct values first (counted), then a flood of new ones: the table outgrows them and is written out.
  const values: number[] = [];
  const budget = new ExactBudget(2 ** 24);
  const b = new Distribution(budget);
  for (let i = 0; i < 2 ** 20; i++) values.push(i % 10);
  for (let i = 0; i < 2 ** 20; i++) values.push(10 + r());
  for (const [i, v] of values.entries()) {
    b.record(v);
    if (i === 2 ** 20 + 10) assert.ok(b.entries < 1000, `counted after the first batch: ${b.entries}`);
  }
  assert.equal(b.entries, values.length, 'written out');
  assert.equal(budget.used, b.entries, 'the budget holds the values written out');
  assert.deepEqual(observed(b), reference(values));
});
