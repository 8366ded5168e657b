import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accumulate,
  formatSummaries,
  Distribution,
  parseSlo,
  requestRecords,
  summarizeRun,
  summaryFromAccumulator,
  findRun,
  type SlowdownReference,
} from '../../src/metrics/index.js';
import { evenChunks, insertRequest, insertRun, makeStore, near } from './helpers.js';

/**
 * Run "big": 1000 ok requests i = 0..999 scheduled every 100 ms, TTFT (i+1) ms, 11 tokens one per chunk
 * 20 ms apart (TPOT 20 ms, E2E TTFT + 200 ms), prompt 100; queue 1 ms; even i in pool 'prompt', odd in
 * 'mixed'. Plus 10 errors (5 ms lag) and 2 warm-up requests with 10 s TTFT that must not count.
 */
function bigRun(db: import('better-sqlite3').Database, opts: { compat?: boolean } = {}): number {
  const id = insertRun(db, { name: 'big', ...(opts.compat ? { options: { compat: 'splitwise' } } : {}) });
  insertRequest(db, id, { seq: 0, scheduled: -10, ttft: 10, e2e: 10.2, tokens: 11, warmup: true, chunks: evenChunks(11, 10, 0.02) });
  insertRequest(db, id, { seq: 1, scheduled: -5, ttft: 10, e2e: 10.2, tokens: 11, warmup: true, chunks: evenChunks(11, 10, 0.02) });
  for (let i = 0; i < 1000; i++) {
    const ttft = (i + 1) / 1000;
    insertRequest(db, id, {
      seq: 10 + i,
      scheduled: i * 0.1,
      ttft,
      e2e: ttft + 0.2,
      tokens: 11,
      prompt: 100,
      chunks: evenChunks(11, ttft, 0.02),
      pool: i % 2 === 0 ? 'prompt' : 'mixed',
      breakdown: { queue: 0.001 },
    });
  }
  for (let j = 0; j < 10; j++) {
    insertRequest(db, id, { seq: 2000 + j, scheduled: j * 5 + 0.05, send: j * 5 + 0.055, status: 'error', tokens: 0 });
  }
  return id;
}

test('percentiles, mean, max and counts of a constructed run are exact (linear interpolation)', () => {
  const exact = (a: number | undefined, e: number): boolean => near(a, e, 1e-12, 1e-15);
  const { db, store } = makeStore();
  bigRun(db);
  const s = summarizeRun(store, 'big');
  assert.equal(s.counts.total, 1010);
  assert.equal(s.counts.ok, 1000);
  assert.equal(s.counts.error, 10);
  assert.equal(s.counts.warmup, 2);
  assert.ok(near(s.errorRate, 10 / 1010));
  const t = s.latencyS.ttft!;
  assert.equal(t.count, 1000);
  // sorted x_k = (k + 1) ms; linear percentile p: h = 999·p/100, value (h + 1) ms
  assert.ok(exact(t.p50, 0.5005), `p50 ${t.p50}`);
  assert.ok(exact(t.p90, 0.9001), `p90 ${t.p90}`);
  assert.ok(exact(t.p95, 0.95005), `p95 ${t.p95}`);
  assert.ok(exact(t.p99, 0.99001), `p99 ${t.p99}`);
  assert.ok(exact(t.p999, 0.999001), `p99.9 ${t.p999}`);
  assert.ok(exact(t.max, 1.0), `max ${t.max}`);
  assert.ok(exact(t.mean, 0.5005), `mean ${t.mean}`);
  const tpot = s.latencyS.tpot!;
  assert.ok(near(tpot.p50, 0.02) && near(tpot.max, 0.02) && tpot.count === 1000);
  assert.ok(exact(s.latencyS.e2e!.p99, 1.19001), `e2e p99 ${s.latencyS.e2e!.p99}`);
  // TBT: 10 gaps of 20 ms per request, one token each.
  assert.equal(s.latencyS.tbt!.count, 10_000);
  assert.ok(near(s.latencyS.tbt!.p99, 0.02));
  // lag: all sent requests incl. warm-up: 1002 zeros and 10 × 5 ms.
  const lag = s.latencyS.lag!;
  assert.equal(lag.count, 1012);
  assert.ok(near(lag.p99, 0), `lag p99 ${lag.p99}`);
  assert.ok(near(lag.p999, 0.005), `lag p99.9 ${lag.p999}`);
  assert.ok(near(lag.max, 0.005));
  assert.ok(near(s.phasesS.queue!.p50, 0.001));
  assert.equal(s.phasesS.prefill, undefined);
  assert.equal(s.pools!['prompt']!.requests, 500);
  assert.equal(s.pools!['mixed']!.requests, 500);
  // even i: ttft (i+1) ms for i = 0,2,..,998 → p50 between the 250th and 251st of 1,3,..,999 ms → 500 ms.
  assert.ok(exact(s.pools!['prompt']!.latencyS.ttft!.p50, 0.5));
  assert.equal(s.slowdown, undefined);
  assert.equal(s.goodput, undefined);
  assert.equal(s.power, undefined);
  assert.equal(s.cost, undefined);
});

test('throughput: ok requests over the arrival window, with makespan, drain and in-system figures beside it', () => {
  const { db, store } = makeStore();
  bigRun(db);
  const s = summarizeRun(store);
  const t = s.throughput;
  // arrival window: first non-warm-up scheduled 0 → last 99.9; last ok ends at 99.9 + 1.0 + 0.2 = 101.1.
  assert.ok(near(t.windowS, 99.9, 1e-12), `window ${t.windowS}`);
  assert.ok(near(t.offeredRequestsPerS, 1010 / 99.9, 1e-12));
  assert.ok(near(t.requestsPerS, 1000 / 99.9, 1e-12));
  assert.ok(near(t.inputTokensPerS, 100_000 / 99.9, 1e-12));
  assert.ok(near(t.outputTokensPerS, 11_000 / 99.9, 1e-12));
  assert.ok(near(t.spanS, 101.1, 1e-12, 1e-9), `span ${t.spanS}`);
  assert.ok(near(t.makespanRequestsPerS, 1000 / 101.1, 1e-12));
  assert.ok(near(t.makespanInputTokensPerS, 100_000 / 101.1, 1e-12));
  assert.ok(near(t.makespanOutputTokensPerS, 11_000 / 101.1, 1e-12));
  // i = 988..999 end after 99.9 (i·0.1 + (i+1)/1000 + 0.2 > 99.9): 12 requests in the drain.
  assert.equal(t.inSystemAtEnd, 12);
  assert.equal(t.drainRequests, 12);
  assert.ok(near(t.drainS, 1.2, 1e-9));
  assert.ok(near(t.completedInWindowPerS, 988 / 99.9, 1e-12));
  // Little: each ok request stays ttft + 0.2 s; the 10 errors leave at once; the drained ones count to 99.9.
  let inSystem = 0;
  for (let i = 0; i < 1000; i++) inSystem += Math.min(i * 0.1 + (i + 1) / 1000 + 0.2, 99.9) - i * 0.1;
  assert.ok(near(t.inSystemMean, inSystem / 99.9, 1e-9), `in-system mean ${t.inSystemMean}`);
  assert.equal(s.saturated, undefined, '99% ok, a steady queue');
});

test('saturated: achieved below 95% of offered, or a queue that grows through the run', () => {
  const { db, store } = makeStore();
  // 100 arrivals 1 s apart served one at a time, 2 s each: the queue grows by one every second.
  const grow = insertRun(db, { name: 'grow' });
  for (let i = 0; i < 100; i++) insertRequest(db, grow, { seq: i, scheduled: i, ttft: 2 * (i + 1) - i - 0.1, e2e: 2 * (i + 1) - i, tokens: 2 });
  const g = summarizeRun(store, 'grow');
  // At t = 99 requests 49..99 are in (2(i+1) > 99); the mean over the window is Σ min(2(i+1), 99) − i over 99 s.
  assert.match(g.saturated ?? '', /the queue grew: 51 requests in the system at the last arrival vs a mean of 25\.\d/);
  // A short bursty tail is not a growing queue: 40 arrivals, the last 8 in one second, served in 0.5 s each.
  const burst = insertRun(db, { name: 'burst' });
  for (let i = 0; i < 40; i++) {
    const t = i < 32 ? i * 2 : 64 + (i - 32) / 8;
    insertRequest(db, burst, { seq: i, scheduled: t, ttft: 0.4, e2e: 0.5 + (i >= 32 ? (i - 32) * 0.5 : 0), tokens: 2 });
  }
  assert.equal(summarizeRun(store, 'burst').saturated, undefined);
  assert.doesNotMatch(g.saturated ?? '', /achieved/);
  // 100 arrivals, 10 errors: achieved 90% of offered.
  const err = insertRun(db, { name: 'errors' });
  for (let i = 0; i < 100; i++) {
    insertRequest(db, err, i % 10 === 0 ? { seq: i, scheduled: i, status: 'error', tokens: 0 } : { seq: i, scheduled: i, ttft: 0.1, e2e: 0.2, tokens: 2 });
  }
  assert.match(summarizeRun(store, 'errors').saturated ?? '', /^achieved 0\.91 of 1\.01 req\/s offered \(90%\)$/);
  const text = formatSummaries([g]);
  assert.match(text, /^saturated\s+YES \(below\)$/m);
  assert.match(text, /^SATURATED: run \d+ \(grow\): the queue grew: 51 requests/m);
});

test('TBT is token-weighted: a chunk of k tokens gives k samples of gap/k', () => {
  const { db, store } = makeStore();
  const id = insertRun(db, { name: 'tbt' });
  // request A: first token at 0.1, then one chunk of 3 tokens 0.3 s later → 3 samples of 0.1
  insertRequest(db, id, {
    seq: 0,
    scheduled: 0,
    ttft: 0.1,
    e2e: 0.4,
    tokens: 4,
    output: 4,
    chunks: [
      { t: 0.1, tokens: 1 },
      { t: 0.4, tokens: 3 },
    ],
  });
  // request B: first token at 0.05, then one token 0.2 s later → 1 sample of 0.2
  insertRequest(db, id, {
    seq: 1,
    scheduled: 1,
    ttft: 0.05,
    e2e: 0.25,
    tokens: 2,
    output: 2,
    chunks: [
      { t: 0.05, tokens: 1 },
      { t: 0.25, tokens: 1 },
    ],
  });
  const s = summarizeRun(store, id);
  const tbt = s.latencyS.tbt!;
  assert.equal(tbt.count, 4);
  assert.ok(near(tbt.mean, 0.125), `mean ${tbt.mean} (per-chunk weighting would give 0.15)`);
  assert.ok(near(tbt.p50, 0.1, 1e-9));
  // samples 0.1, 0.1, 0.1, 0.2: h = 3·0.99 = 2.97 → 0.1 + 0.97·0.1
  assert.ok(near(tbt.p99, 0.197, 1e-9), `tbt p99 ${tbt.p99}`);
  // TPOT per request: A (0.4-0.1)/3 = 0.1, B 0.2/1 = 0.2; p50 is their midpoint
  assert.ok(near(s.latencyS.tpot!.p50, 0.15, 1e-9) && near(s.latencyS.tpot!.max, 0.2, 1e-9));
  // max stall: A 0.3, B 0.2
  assert.ok(near(s.latencyS.max_stall!.max, 0.3));
});

test('compat runs use SplitwiseSim TBT = (E2E − TTFT) / tokens, one sample per request', () => {
  const { db, store } = makeStore();
  bigRun(db, { compat: true });
  const s = summarizeRun(store, 'big');
  assert.equal(s.run.compat, true);
  assert.equal(s.latencyS.tbt!.count, 1000);
  assert.ok(near(s.latencyS.tbt!.p50, 0.2 / 11), `tbt ${s.latencyS.tbt!.p50}`);
});

test('slowdowns divide by the reference latency of the same request', () => {
  const { db, store } = makeStore();
  bigRun(db);
  const ref: SlowdownReference = { describe: 'const', latency: () => ({ ttft: 0.001, tpot: 0.01, e2e: 0.1 }) };
  const s = summarizeRun(store, 'big', { reference: ref });
  const sd = s.slowdown!;
  assert.equal(sd.matched, 1000);
  assert.ok(near(sd.ttft!.p50, 500.5, 1e-12), `slowdown ttft p50 ${sd.ttft!.p50}`);
  assert.ok(near(sd.ttft!.p90, 900.1, 1e-12));
  assert.ok(near(sd.tpot!.p99, 2));
  assert.ok(near(sd.tbt!.p99, 2), 'tbt reference defaults to tpot; per-request tbt = tpot');
  // e2e slowdown (ttft + 0.2) / 0.1 → p50 = (0.5005+0.2)/0.1 = 7.005
  assert.ok(near(sd.e2e!.p50, 7.005, 1e-12));
});

test('goodput counts requests meeting every per-request limit; errors count against the fraction', () => {
  const { db, store } = makeStore();
  bigRun(db);
  const slo = parseSlo('per_request:\n  - ttft <= 500.5ms\n  - tpot <= 25ms\n', 'x.yaml');
  const s = summarizeRun(store, 'big', { slo });
  assert.equal(s.goodput!.good, 500);
  assert.ok(near(s.goodput!.fraction, 500 / 1010, 1e-12));
  assert.ok(near(s.goodput!.requestsPerS, 500 / 99.9, 1e-12), 'good requests over the arrival window');
  const strict = summarizeRun(store, 'big', { slo: parseSlo('per_request:\n  - tpot < 19ms\n', 'y.yaml') });
  assert.equal(strict.goodput!.good, 0);
});

test('output length mismatches count ok requests whose received tokens differ from the asked', () => {
  const { db, store } = makeStore();
  const id = insertRun(db, { name: 'mm' });
  insertRequest(db, id, { seq: 0, scheduled: 0, ttft: 0.1, e2e: 0.2, output: 5, tokens: 5 });
  insertRequest(db, id, { seq: 1, scheduled: 0, ttft: 0.1, e2e: 0.2, output: 5, tokens: 3 });
  insertRequest(db, id, { seq: 2, scheduled: 0, status: 'timeout', output: 5, tokens: 2 });
  const s = summarizeRun(store, id);
  assert.equal(s.outputMismatches, 1);
  assert.equal(s.counts.timeout, 1);
});

test('power and cost: sample-and-hold energy over the span, pool mean/peak, $ per 1M output tokens', () => {
  const { db, store } = makeStore();
  const id = insertRun(db, { name: 'pw' });
  insertRequest(db, id, { seq: 0, scheduled: 0, ttft: 1, e2e: 10, tokens: 10, output: 10 });
  db.prepare(`INSERT INTO machines (run_id, machine_id, machine_type, pool, price_per_hour) VALUES (?,?,?,?,?)`).run(id, 'm0', 'dgx-a100', 'prompt', 2);
  db.prepare(`INSERT INTO machines (run_id, machine_id, machine_type, pool, price_per_hour) VALUES (?,?,?,?,?)`).run(id, 'm1', 'dgx-a100', 'token', 1);
  const ps = db.prepare(`INSERT INTO power_samples (run_id, t, machine_id, role, source, watts) VALUES (?,?,?,?,?,?)`);
  for (const [t, w] of [
    [0, 100],
    [5, 200],
    [10, 300],
  ])
    ps.run(id, t, 'm0', 'prompt', 'model', w);
  for (const t of [0, 10]) ps.run(id, t, 'm1', 'token', 'model', 50);
  const s = summarizeRun(store, id);
  const p = s.power!;
  assert.ok(near(p.energyJ, 2000, 1e-12));
  assert.ok(near(p.energyPerRequestJ!, 2000, 1e-12));
  assert.ok(near(p.energyPerOutputTokenJ!, 200, 1e-12));
  assert.ok(near(p.pools['prompt']!.meanW, 150, 1e-12));
  // Peaks are of the same sample-and-hold power the energy integrates: the 300 W sample at t = 10 holds from the
  // span's end on, so it is outside it.
  assert.ok(near(p.pools['prompt']!.peakW, 200, 1e-12));
  assert.ok(near(p.pools['token']!.meanW, 50, 1e-12));
  assert.ok(near(p.peakW, 250, 1e-12));
  assert.ok(near(p.meanW, 200, 1e-12));
  const c = s.cost!;
  assert.ok(near(c.dollars, (3 * 10) / 3600, 1e-12));
  assert.ok(near(c.dollarsPerMOutputTokens!, ((3 * 10) / 3600 / 10) * 1e6, 1e-12));
});

test('power of a borrowed machine counts for each pool only while it is there: energies add up, mean <= peak', () => {
  const { db, store } = makeStore();
  const id = insertRun(db, { name: 'borrow' });
  insertRequest(db, id, { seq: 0, scheduled: 0, ttft: 1, e2e: 10, tokens: 10, output: 10 });
  const ps = db.prepare(`INSERT INTO power_samples (run_id, t, machine_id, role, source, watts) VALUES (?,?,?,?,?,?)`);
  // m0: a prompt machine at 100 W, borrowed by the mixed pool at t = 5 (200 W); m1: a token machine, 50 W,
  // sampled at other instants than m0.
  for (const [t, w, role] of [
    [0, 100, 'prompt'],
    [5, 200, 'mixed'],
    [10, 200, 'mixed'],
  ] as const)
    ps.run(id, t, 'm0', role, 'model', w);
  for (const t of [0, 2.5, 7.5, 10]) ps.run(id, t, 'm1', 'token', 'model', 50);
  const p = summarizeRun(store, id).power!;
  const pools = p.pools;
  assert.deepEqual(Object.keys(pools).sort(), ['mixed', 'prompt', 'token']);
  assert.ok(near(pools['prompt']!.energyJ!, 500, 1e-12) && near(pools['mixed']!.energyJ!, 1000, 1e-12) && near(pools['token']!.energyJ!, 500, 1e-12));
  const sum = Object.values(pools).reduce((a, x) => a + x.energyJ!, 0);
  assert.ok(near(sum, p.energyJ, 1e-12), `pool energies ${sum} vs cluster ${p.energyJ}`);
  for (const [name, x] of Object.entries(pools)) assert.ok(x.meanW <= x.peakW + 1e-9, `${name}: mean ${x.meanW} > peak ${x.peakW}`);
  assert.ok(near(pools['prompt']!.meanW, 50, 1e-12) && near(pools['prompt']!.peakW, 100, 1e-12));
  assert.ok(near(pools['mixed']!.meanW, 100, 1e-12) && near(pools['mixed']!.peakW, 200, 1e-12));
  assert.ok(near(p.peakW, 250, 1e-12), `cluster peak ${p.peakW} (samples at different instants still add up)`);
  assert.ok(near(p.meanW, 200, 1e-12));
});

test('histograms merge: two halves accumulated separately equal the whole', () => {
  const { db, store } = makeStore();
  const id = bigRun(db);
  const run = findRun(store, id);
  const rows = [...requestRecords(store, id)];
  const whole = summaryFromAccumulator(run, accumulate(rows, false));
  const a = accumulate(
    rows.filter((_, i) => i % 2 === 0),
    false,
  );
  const b = accumulate(
    rows.filter((_, i) => i % 2 === 1),
    false,
  );
  const merged = summaryFromAccumulator(run, a.merge(b));
  assert.deepEqual(merged.latencyS, whole.latencyS);
  assert.deepEqual(merged.counts, whole.counts);
  const { inSystemMean: mergedMean, ...mergedRest } = merged.throughput;
  const { inSystemMean: wholeMean, ...wholeRest } = whole.throughput;
  assert.deepEqual(mergedRest, wholeRest);
  assert.ok(near(mergedMean, wholeMean, 1e-12), 'the in-system mean is a sum taken in another order');
  assert.deepEqual(merged.pools, whole.pools);
});

test('distributions are exact: linear (numpy default) and nearest-rank percentiles, merge, weights', () => {
  const d = new Distribution();
  for (const v of [5, 1, 4, 2, 3]) d.record(v);
  const s = d.stats()!;
  assert.deepEqual([s.count, s.mean, s.max, s.p50], [5, 3, 5, 3]);
  assert.equal(s.p90, 4.6); // h = 4·0.9 = 3.6 → 4 + 0.6·(5 − 4)
  assert.equal(d.percentile(25), 2);
  assert.equal(d.percentile(90, 'nearest-rank'), 5); // ⌈5·0.9⌉ = 5th value
  assert.equal(d.percentile(20, 'nearest-rank'), 1);
  assert.equal(d.percentile(0, 'nearest-rank'), 1);
  const w = new Distribution();
  w.record(0.25, 3); // a 3-token chunk: the same gap three times
  w.record(1);
  assert.deepEqual([w.count, w.stats()!.mean, w.percentile(50), w.percentile(100)], [4, 0.4375, 0.25, 1]);
  const m = new Distribution().merge(w).merge(d);
  assert.equal(m.count, 9);
  assert.equal(m.percentile(50), 1); // [0.25 ×3, 1, 1, 2, 3, 4, 5]
  assert.equal(new Distribution().stats(), undefined);
  const unsorted = new Distribution();
  for (const v of [3, 1, 2]) unsorted.record(v);
  assert.equal(new Distribution().merge(unsorted).percentile(0), 1, 'an unsorted distribution merged into an empty one');
  const precise = new Distribution();
  precise.record(28.624999999123);
  assert.equal(precise.stats()!.p99, 28.624999999123, 'no rounding to microseconds');
});

test('past its exact limit a distribution becomes an hdr histogram and says so', () => {
  const small = new Distribution(100);
  for (let i = 1; i <= 100; i++) small.record(i / 1000);
  assert.equal(small.approximate, false);
  assert.equal(small.stats()!.approximate, undefined);
  small.record(0.101);
  assert.equal(small.approximate, true);
  const s = small.stats()!;
  assert.match(s.approximate!, /hdr histogram, 3 significant digits/);
  assert.equal(s.count, 101);
  assert.ok(near(s.mean, 0.051, 1e-12), `mean stays exact: ${s.mean}`);
  assert.equal(s.max, 0.101);
  assert.ok(near(s.p50, 0.051), `p50 ${s.p50}`);
  const merged = new Distribution(150).merge(small).merge(small);
  assert.equal(merged.count, 202);
  assert.equal(merged.approximate, true);
});

test('formatSummaries puts runs side by side', () => {
  const { db, store } = makeStore();
  bigRun(db);
  const id2 = insertRun(db, { name: 'other' });
  insertRequest(db, id2, { seq: 0, scheduled: 0, ttft: 0.25, e2e: 0.5, tokens: 2, output: 2 });
  const text = formatSummaries([summarizeRun(store, 'big'), summarizeRun(store, 'other')]);
  const lines = text.split('\n');
  assert.match(lines[0]!, /^run\s+1 big\s+2 other$/);
  const ttft = lines.find((l) => l.startsWith('TTFT p50'))!;
  assert.match(ttft, /500\.\d ms\s+250\.\d ms$/);
  assert.match(text, /requests ok \/ total\s+1000 \/ 1010\s+1 \/ 1/);
});

test('unknown run names fail with a usage error naming the run', () => {
  const { db, store } = makeStore();
  insertRun(db, { name: 'a' });
  assert.throws(() => summarizeRun(store, 'nope'), /no run with id, name or uuid 'nope'/);
  const empty = makeStore();
  assert.throws(() => summarizeRun(empty.store), /holds no runs/);
});
