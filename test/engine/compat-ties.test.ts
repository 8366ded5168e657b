/**
 * Exact ties in the SplitwiseSim-compatible mode. SplitwiseSim keeps every event in one CPython `heapq`
 * compared by time only, with every trace arrival pushed in trace order before its loop starts (the
 * Splitwise notes, 2.8 "Event loop"); the order of events due at the same instant is whatever that heap
 * gives. The compatible cluster reproduces it with (1) a heap that pushes and pops exactly like `heapq`
 * (checked here against CPython's own output on a tie-heavy sequence) and (2) the same pushes in the same
 * order: the arrivals first, in trace order (`queueArrival`, what the simulator does), then the events the
 * handlers schedule. The scenarios below put events on a dyadic time grid so that iteration ends,
 * arrivals, transfer retries and completions on several machines coincide exactly, and check the
 * invariants and determinism.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EventRank, VirtualClock } from '../../src/engine/clock.js';
import { createCluster, type EngineCatalog } from '../../src/engine/cluster.js';
import type { CompatInstanceState } from '../../src/engine/compat/cluster.js';
import { PyHeap, type HeapEvent } from '../../src/engine/compat/heapq.js';
import type { CompatPredictors } from '../../src/engine/predictors.js';
import { seededRandom } from '../../src/engine/schedulers.js';
import type { ModelSpec } from '../../src/engine/specs.js';
import { simulate } from '../../src/sim/simulate.js';
import type { RequestRow } from '../../src/store/index.js';
import { catalogOf, tinyMachine } from './helpers.js';
import { defineDeployment, loadDeployment, loadEngineData } from '../../src/config/index.js';

test('heapq: a tie-heavy push/pop sequence pops exactly as CPython 3 heapq does', () => {
  // 500 sorted "arrivals" with repeated times, then 4,000 steps of pops and pushes at now + {0.25, 0.5, 1, 1, 2}
  // from a 31-bit LCG; the expected pop order (2,923 ids) was produced by CPython's heapq with the same generator
  // and events whose __lt__ compares time only. FIFO order would start 0, 1, 2, ...
  let x = 12345n;
  const rnd = (): number => {
    x = (x * 1103515245n + 12345n) % 2147483648n;
    return Number(x);
  };
  const h = new PyHeap();
  let id = 0;
  const push = (time: number): void => h.push({ time, action: () => {}, cancelled: false, id: id++ } as never);
  let t = 0;
  for (let k = 0; k < 500; k++) {
    if (rnd() % 3 === 0) t += 0.25;
    push(t);
  }
  const out: number[] = [];
  const idOf = (e: unknown): number => (e as { id: number }).id;
  let now = 0;
  for (let step = 0; step < 4000; step++) {
    if (rnd() % 10 < 4 && h.length > 0) {
      const e = h.pop() as HeapEvent;
      now = e.time;
      out.push(idOf(e));
    } else {
      push(now + [0.25, 0.5, 1.0, 1.0, 2.0][rnd() % 5]!);
    }
  }
  while (h.length > 0) out.push(idOf(h.pop()));
  assert.equal(out.length, 2923);
  assert.deepEqual(out.slice(0, 12), [0, 2, 6, 5, 1, 4, 3, 501, 9, 8, 7, 503]);
  assert.equal(createHash('sha256').update(out.join(',')).digest('hex'), 'dd4a9163bb1ddfce2fd89970085ee287ee84466e0a328badd7d89da0f055e67c');
});

// ---- a toy cluster on a dyadic time grid ------------------------------------------------------------

/** prompt(x) = 1/8 + x/1024 s, token = 1/16 s: every iteration boundary is a dyadic rational (exact sums). */
const pred: CompatPredictors = { promptTime: (x) => 0.125 + x / 1024, tokenTime: () => 0.0625 };
const CAP = 8 * 85_899_345_920;
const KV_PER_TOKEN = 2 * 1_000_000;
function toy(kvTokens: number): ModelSpec {
  return { name: 'toy', layers: 1, hidden: 1_000_000, heads: 1, kvHeads: 1, dtypeBytes: 1, weightsBytes: CAP - kvTokens * KV_PER_TOKEN };
}
const catalog = (kvTokens: number): EngineCatalog => catalogOf([tinyMachine('m', 1)], [toy(kvTokens)]);

interface Req {
  id: string;
  at: number;
  p: number;
  o: number;
}
interface Outcome {
  /** id → end time | prompt machine | token machine | tokens received */
  readonly done: Map<string, string>;
  readonly never: readonly string[];
  readonly maxOver: number;
  readonly final: readonly CompatInstanceState[];
  /** Every (time, machine) pair at which an iteration started, to count exact coincidences. */
  readonly starts: string[];
  readonly retriesTied: number;
}

function runToy(pools: object, kind: 'split' | 'monolithic', kvTokens: number, reqs: readonly Req[], arrivals: 'heap' | 'clock'): Outcome {
  const clock = new VirtualClock();
  let maxOver = -Infinity;
  const starts: string[] = [];
  let lastRetry = { time: NaN, n: 0 };
  let retriesTied = 0;
  type C = ReturnType<typeof createCluster> & { compatDebug(): readonly CompatInstanceState[] };
  const cluster = createCluster(
    defineDeployment({ model: 'toy', kind, scheduler: kind === 'split' ? 'splitwise-mixed-pool' : 'jsq-tokens', pools } as Parameters<
      typeof defineDeployment
    >[0]),
    {
      clock,
      catalog: catalog(kvTokens),
      compat: 'splitwise',
      predictors: () => pred,
      events: {
        iterationStart: (e) => {
          starts.push(`${e.start}|${e.machine}`);
          for (const s of cluster.compatDebug()) maxOver = Math.max(maxOver, s.memory - s.capacity);
        },
        kvTransferStart: (e) => {
          // Transfers that start at the same instant after waiting (a retry) are tied retries.
          if (e.time === lastRetry.time) retriesTied++;
          lastRetry = { time: e.time, n: lastRetry.n + 1 };
          for (const s of cluster.compatDebug()) maxOver = Math.max(maxOver, s.memory - s.capacity);
        },
      },
    },
  ) as C;
  const done = new Map<string, string>();
  for (const r of reqs) {
    let tokens = 0;
    const go = (): void => {
      cluster.submit(
        { id: r.id, promptTokens: r.p, outputTokens: r.o },
        {
          onTokens: (n) => void (tokens += n),
          onDone: (bd, t) => void done.set(r.id, `${t}|${bd.promptMachine}|${bd.tokenMachine}|${tokens}`),
          onFailed: (reason) => assert.fail(`${r.id}: ${reason}`),
        },
      );
    };
    if (arrivals === 'heap') cluster.queueArrival!(r.at, go);
    else clock.at(r.at, go, EventRank.arrival);
  }
  clock.run();
  return { done, never: cluster.inFlightIds!(), maxOver, final: cluster.compatDebug(), starts, retriesTied };
}

function assertInvariants(o: Outcome, reqs: readonly Req[], label: string): void {
  assert.equal(o.done.size + o.never.length, reqs.length, `${label}: every request completes or is reported never completed`);
  assert.ok(o.maxOver <= 0, `${label}: memory over capacity by ${o.maxOver} B`);
  for (const r of reqs) {
    const d = o.done.get(r.id);
    if (d) assert.equal(Number(d.split('|')[3]), r.o, `${label}: ${r.id} received all its tokens`);
  }
  if (o.never.length === 0) {
    for (const s of o.final) {
      assert.equal(s.pendingTokens, 0, `${label}: ${s.id} pending tokens back to 0`);
      assert.equal(s.memory, s.weights, `${label}: ${s.id} memory back to the weights`);
      assert.ok(Math.abs(s.schedMemory - s.weights) < 1, `${label}: ${s.id} reserved memory back to the weights`);
      assert.equal(s.pendingTasks + s.batch + s.requests, 0, `${label}: ${s.id} empty`);
    }
  }
}

const key = (o: Outcome): string =>
  `${[...o.done.entries()]
    .sort()
    .map((e) => e.join('='))
    .join(';')}|never=${[...o.never].sort().join(',')}`;

/** Arrivals on a 1/64 s grid (so many land exactly on iteration ends), prompts multiples of 16 tokens. */
function gridTrace(seed: number, n: number, maxPrompt = 128, maxOut = 60): Req[] {
  const rnd = seededRandom(seed);
  const out: Req[] = [];
  let t = 1 / 64;
  for (let i = 0; i < n; i++) {
    t += Math.floor(rnd() * 16) / 64;
    out.push({ id: String(i).padStart(3, '0'), at: t, p: 16 * (1 + Math.floor(rnd() * (maxPrompt / 16))), o: 2 + Math.floor(rnd() * maxOut) });
  }
  return out;
}

const split = (P: number, T: number) => ({ prompt: { machine: 'm', count: P }, token: { machine: 'm', count: T } });

test('ties: arrivals exactly at iteration ends, small split clusters; invariants, determinism, heap order matters', (t) => {
  let differ = 0;
  let coincident = 0;
  for (let seed = 0; seed < 24; seed++) {
    const reqs = gridTrace(seed, 20 + (seed % 5) * 8);
    const pools = split(1 + (seed % 3), 1 + ((seed >> 2) % 2));
    const a = runToy(pools, 'split', 400, reqs, 'heap');
    assertInvariants(a, reqs, `seed ${seed}`);
    assert.equal(key(runToy(pools, 'split', 400, reqs, 'heap')), key(a), `seed ${seed}: deterministic`);
    const arrivalsOnBoundaries = reqs.filter((r) => a.starts.some((s) => Number(s.split('|')[0]) === r.at)).length;
    coincident += arrivalsOnBoundaries;
    const b = runToy(pools, 'split', 400, reqs, 'clock');
    assertInvariants(b, reqs, `seed ${seed} (clock arrivals)`);
    if (key(b) !== key(a)) differ++;
  }
  t.diagnostic(`24 scenarios: ${coincident} arrivals at an iteration start; heap order and arrival-last order disagree on ${differ}`);
  assert.ok(coincident > 50, `arrivals that coincide with an iteration start: ${coincident}`);
  // Ordering arrivals after internal events of their instant (the clock's rank rule) is not SplitwiseSim's
  // heap order; on this grid the two disagree on some scenarios, which is why the simulator queues arrivals.
  assert.ok(differ > 0, 'the heap order and the arrival-last order never disagreed: the scenarios provoke no ties');
});

test('ties: KV-transfer retries due at the same instant (one full token machine), and the run ends', (t) => {
  // 1 prompt + 1 token machine with room for 400 tokens of KV: prompts of one batch finish together, their
  // transfers find the token machine full and retry every second at the same instants.
  let tied = 0;
  let never = 0;
  for (let seed = 100; seed < 116; seed++) {
    const reqs = gridTrace(seed, 40, 96, 120).map((r) => ({ ...r, p: 64 }));
    for (const arrivals of ['heap', 'clock'] as const) {
      const a = runToy(split(1, 1), 'split', 400, reqs, arrivals);
      assertInvariants(a, reqs, `seed ${seed} ${arrivals}`);
      assert.equal(key(runToy(split(1, 1), 'split', 400, reqs, arrivals)), key(a), `seed ${seed}: deterministic`);
      tied += a.retriesTied;
      never += a.never.length;
    }
  }
  t.diagnostic(`transfers started at the same instant as another: ${tied}; requests left behind a full destination: ${never}`);
  assert.ok(tied > 0, 'no two transfers started at the same instant');
  // A transfer whose destination never frees memory retries forever in SplitwiseSim (until its end time);
  // here the run ends once only such retries are left and reports those requests as never completed.
  assert.ok(never > 0, 'no scenario ended with requests left behind a full destination');
});

test('ties: simultaneous completions on several machines', () => {
  // 4 machines, identical requests in waves at the same instants: JSQ spreads them, so iterations start
  // and end at exactly the same times on every machine.
  const reqs: Req[] = [];
  for (let w = 0; w < 6; w++) for (let i = 0; i < 8; i++) reqs.push({ id: `w${w}-${i}`, at: 0.5 + w * 0.75, p: 128, o: 5 + (i % 3) * 4 });
  for (const arrivals of ['heap', 'clock'] as const) {
    const a = runToy({ mixed: { machine: 'm', count: 4 } }, 'monolithic', 100_000, reqs, arrivals);
    assertInvariants(a, reqs, `mono ${arrivals}`);
    assert.equal(a.never.length, 0);
    const byTime = new Map<string, number>();
    for (const s of a.starts) byTime.set(s.split('|')[0]!, (byTime.get(s.split('|')[0]!) ?? 0) + 1);
    assert.ok(Math.max(...byTime.values()) >= 4, 'iterations on all four machines start at one instant');
    assert.equal(key(runToy({ mixed: { machine: 'm', count: 4 } }, 'monolithic', 100_000, reqs, arrivals)), key(a));
    // Same shape, same load: the four machines share the work evenly.
    const perMachine = new Map<string, number>();
    for (const d of a.done.values()) perMachine.set(d.split('|')[1]!, (perMachine.get(d.split('|')[1]!) ?? 0) + 1);
    assert.deepEqual([...perMachine.values()], [12, 12, 12, 12]);
  }
  // Split cluster: several prompt machines finish at once and ship to the token pool at the same instant.
  const a = runToy(split(4, 2), 'split', 3000, reqs, 'heap');
  assertInvariants(a, reqs, 'split 4P+2T');
});

test('the simulator queues every arrival in the compatible heap: rows are deterministic and complete', async () => {
  const dep = loadDeployment('splitwise-hh');
  const rnd = seededRandom(7);
  const specs = Array.from({ length: 400 }, (_, i) => ({
    id: `r${i}`,
    arrival: Math.floor(i / 4) * 0.25,
    promptTokens: 64 + Math.floor(rnd() * 3000),
    outputTokens: 2 + Math.floor(rnd() * 300),
  }));
  const once = async (): Promise<RequestRow[]> => {
    const rows: RequestRow[] = [];
    const r = await simulate({
      data: loadEngineData(),
      deployment: dep,
      requests: specs,
      compat: 'splitwise',
      sink: { addRequest: (row) => void rows.push(row) },
      sampleIntervalS: 0,
      lookahead: 16,
    });
    assert.equal(r.submitted, specs.length);
    assert.equal(r.ok + r.neverCompleted, specs.length);
    return rows;
  };
  const a = await once();
  const b = await once();
  const strip = (rows: RequestRow[]) =>
    rows.map((r) => ({ ...r, tokenTimesBlob: r.tokenTimesBlob ? Buffer.from(r.tokenTimesBlob).toString('hex') : undefined }));
  assert.deepEqual(strip(b), strip(a));
});

test('a run stuck in transfer retries ends, and a later submit replays the retries it skipped exactly', () => {
  // Off the dyadic grid (arrivals at k/64 + 1/3 s), so queued and clock-fed arrivals order the same way.
  let checked = 0;
  for (let seed = 100; seed < 116 && checked < 3; seed++) {
    const base = gridTrace(seed, 40, 96, 120).map((r) => ({ ...r, p: 64, at: r.at + 1 / 3 }));
    const stuck = runToy(split(1, 1), 'split', 400, base, 'clock');
    if (stuck.never.length === 0) continue;
    if (key(runToy(split(1, 1), 'split', 400, base, 'heap')) !== key(stuck)) continue;
    // A request long after everything froze: fed from the clock, the frozen heap is drained up to it; queued
    // from the start, the retries simply ran every second all along. Same outcome.
    const late = [...base, { id: 'late', at: base[base.length - 1]!.at + 500.125, p: 16, o: 3 }];
    const fromClock = runToy(split(1, 1), 'split', 400, late, 'clock');
    const queued = runToy(split(1, 1), 'split', 400, late, 'heap');
    assertInvariants(fromClock, late, `seed ${seed} late`);
    assert.equal(key(fromClock), key(queued), `seed ${seed}: resuming a frozen run matches retrying all along`);
    checked++;
  }
  assert.ok(checked > 0, 'no scenario froze');
});
