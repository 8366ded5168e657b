/**
 * The summary `splitbench sim` prints is kept as the rows are written (the writer's request tap, rows in
 * completion order, added in seq order by OrderedAccumulator): it is the summary a read-back of the stored
 * rows gives (`summarizeRun`), field for field, in both engine modes, with warm-up rows and a slowdown
 * reference, kept on this thread (a short run) or on the writer's (summary-tap.ts: 5,000 rows and more);
 * and OrderedAccumulator adds shuffled rows in (shard, seq) order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { tempDir } from '../load/helpers.js';
import { openStore } from '../../src/store/index.js';
import { accumulate, findRun, OrderedAccumulator, requestRecords, resolveReference, RunAccumulator, summarizeRun } from '../../src/metrics/index.js';
import { flagValues } from '../../src/flagspec.js';
import { resolveSimOptions, runSim } from '../../src/sim/index.js';
import { SIM_FLAGS, type SimFlags } from '../../src/sim/options.js';
import { loadSimInput } from '../../src/config/index.js';

/** Run a sim and check its summary against the read-back one; `here`: how many rows the main thread's tap got. */
async function check(args: Partial<SimFlags>, what: string, here?: (n: number) => void): Promise<void> {
  const db = path.join(tempDir(), 's.db');
  const opts = resolveSimOptions(flagValues(SIM_FLAGS, { db, ...args }));
  const add = OrderedAccumulator.prototype.add;
  let n = 0;
  OrderedAccumulator.prototype.add = function (this: OrderedAccumulator, r) {
    n++;
    add.call(this, r);
  };
  let r: Awaited<ReturnType<typeof runSim>>;
  try {
    r = await runSim(opts, loadSimInput(opts), { log: () => undefined, progress: false });
  } finally {
    OrderedAccumulator.prototype.add = add;
  }
  here?.(n);
  const store = openStore(db, { readonly: true });
  try {
    const run = findRun(store, r.runId);
    const reference = await resolveReference(store, run, { required: false });
    assert.ok(reference, `${what}: a slowdown reference`);
    const back = summarizeRun(store, r.runId, { reference });
    assert.ok(back.counts.total > 100, `${what}: ${back.counts.total} requests`);
    assert.deepStrictEqual(r.summary, back, `${what}: the summary kept as the run went is the read-back one`);
  } finally {
    store.close();
  }
}

test('sim summary kept during the run = summary read back from the store (compat, warm-up)', async () => {
  await check({ trace: 'conversation', deployment: 'splitwise-hh-paper', compat: 'splitwise', rate: 70, duration: 20, warmup: 3 }, 'compat');
});

test('sim summary kept during the run = summary read back from the store (realistic, split)', async () => {
  await check({ trace: 'coding', deployment: 'splitwise-hh', rate: 6, duration: 30 }, 'realistic');
});

test('sim summary kept on the writer thread = summary read back from the store (compat, 5,000+ rows)', async () => {
  await check({ trace: 'conversation', deployment: 'baseline-h100-paper', compat: 'splitwise', rate: 70, duration: 90, warmup: 5 }, 'compat, thread', (n) =>
    assert.equal(n, 0, 'the rows went to the writer thread, not to the tap here'),
  );
});

test('sim summary kept on the writer thread = summary read back from the store (realistic, 5,000+ rows)', async () => {
  await check({ trace: 'coding', deployment: 'splitwise-hh', rate: 70, duration: 80 }, 'realistic, thread', (n) =>
    assert.equal(n, 0, 'the rows went to the writer thread, not to the tap here'),
  );
});

test('OrderedAccumulator adds rows arriving in any order in (shard, seq) order', async () => {
  const db = path.join(tempDir(), 'o.db');
  const opts = resolveSimOptions(flagValues(SIM_FLAGS, { db, trace: 'coding', deployment: 'baseline-h100', rate: 8, duration: 20 }));
  const r = await runSim(opts, loadSimInput(opts), { log: () => undefined, progress: false });
  const store = openStore(db, { readonly: true });
  try {
    const rows = [...requestRecords(store, r.runId)];
    // A fixed shuffle (reversed blocks of 7), plus a gap: seq 3 comes last.
    const shuffled = rows.filter((x) => x.seq !== 3);
    for (let i = 0; i < shuffled.length; i += 7) shuffled.splice(i, 7, ...shuffled.slice(i, i + 7).reverse());
    shuffled.push(rows.find((x) => x.seq === 3)!);
    const ordered = new OrderedAccumulator(new RunAccumulator(false));
    const seen: number[] = [];
    const spy = new RunAccumulator(false);
    const add = spy.add.bind(spy);
    spy.add = (x) => {
      seen.push(x.seq);
      add(x);
    };
    const viaSpy = new OrderedAccumulator(spy);
    for (const x of shuffled) ordered.add(x);
    // Without seq 3 at all: the rows after it wait for finish(), which adds them in order.
    for (const x of shuffled) if (x.seq !== 3) viaSpy.add(x);
    assert.deepStrictEqual(seen, [0, 1, 2], 'rows after the gap wait');
    viaSpy.finish();
    assert.deepStrictEqual(
      seen,
      rows.map((x) => x.seq).filter((q) => q !== 3),
      'added in seq order',
    );
    const inOrder = accumulate(rows, false);
    const acc = ordered.finish();
    assert.equal(acc.breakdownSums.e2e, inOrder.breakdownSums.e2e);
    assert.equal(acc.done.sumEnd, inOrder.done.sumEnd);
    assert.deepStrictEqual(acc.latency.ttft.stats(), inOrder.latency.ttft.stats());
  } finally {
    store.close();
  }
});
