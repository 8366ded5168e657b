import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtualClock, EventRank } from '../../src/engine/clock.js';
import { createCluster, type EngineCatalog } from '../../src/engine/cluster.js';
import type { CompatPredictors } from '../../src/engine/predictors.js';
import { PyHeap, pyFloorDiv } from '../../src/engine/compat/heapq.js';
import { catalogOf, near, recorder, req, tinyMachine, type Record } from './helpers.js';
import type { ModelSpec } from '../../src/engine/specs.js';
import { defineDeployment } from '../../src/config/index.js';

/** prompt(x) = 0.1 + 0.001·x s; token(x) = 0.02 s: exact expected latencies. */
const constPred: CompatPredictors = { promptTime: (x) => 0.1 + 0.001 * x, tokenTime: () => 0.02 };

/**
 * A model whose compat KV is 2·hidden·layers·dtype = 1e9 B/token... scaled so capacity
 * (8 × 80 GiB − weights) holds a known number of tokens.
 */
function model(kvTokensCapacity: number): ModelSpec {
  const cap = 8 * 85_899_345_920;
  const perToken = 2 * 1_000_000; // hidden 1e6, 1 layer, 1-byte elements
  return { name: 'toy', layers: 1, hidden: 1_000_000, heads: 1, kvHeads: 1, dtypeBytes: 1, weightsBytes: cap - kvTokensCapacity * perToken };
}

function setup(spec: object, cat: EngineCatalog) {
  const clock = new VirtualClock();
  const cluster = createCluster(defineDeployment({ model: 'toy', ...spec } as Parameters<typeof defineDeployment>[0]), {
    clock,
    catalog: cat,
    compat: 'splitwise',
    predictors: () => constPred,
  });
  const recs = new Map<string, Record>();
  const submitAt = (t: number, id: string, p: number, o: number) => clock.at(t, () => cluster.submit(req(id, p, o), recorder(id, recs)), EventRank.arrival);
  return { clock, cluster, recs, submitAt };
}

const cat = (tokens = 1_000_000) => catalogOf([tinyMachine('m', 1)], [model(tokens)]);
const mono = (count = 1) => ({ kind: 'monolithic', scheduler: 'jsq-tokens', pools: { mixed: { machine: 'm', count } } });

test('heapq: equal times pop in CPython heapq order, not FIFO', () => {
  // CPython 3.11, events compared by time only: pushes a..h → pops g, e, c, f, h, b, a, d
  const h = new PyHeap();
  const pushes = [
    [1, 'a'],
    [1, 'b'],
    [1, 'c'],
    [1, 'd'],
    [0.5, 'e'],
    [1, 'f'],
    [0.2, 'g'],
    [1, 'h'],
  ] as const;
  for (const [t, tag] of pushes) {
    h.push({ time: t, action: () => void tag, cancelled: false, tag } as never);
  }
  const out: string[] = [];
  while (h.length) out.push((h.pop() as unknown as { tag: string }).tag);
  assert.deepEqual(out, ['g', 'e', 'c', 'f', 'h', 'b', 'a', 'd']);
});

test('pyFloorDiv matches Python float floor division', () => {
  assert.equal(pyFloorDiv(0.3, 0.1), 2); // Python: 0.3 // 0.1 == 2.0
  assert.equal(pyFloorDiv(1, 0.1), 9); // 1 // 0.1 == 9.0
  assert.equal(pyFloorDiv(0.7, 0.35), 2);
  assert.equal(pyFloorDiv(5, 2), 2);
  assert.equal(pyFloorDiv(0.29999999999999993, 0.02), 14);
  assert.equal(pyFloorDiv(2.0000000000000004, 0.1), 20);
});

test('compat: one request alone (prompt iteration, then one contiguous decode run)', () => {
  const { clock, recs, submitAt } = setup(mono(), cat());
  submitAt(1, 'r', 100, 5);
  clock.run();
  const r = recs.get('r')!;
  near(r.tokens[0]!.t, 1.2, 'TTFT at prompt end');
  assert.deepEqual(
    r.tokens.map((x) => x.n),
    [1, 4],
    'decode-only batch runs as one event',
  );
  near(r.done!.t, 1.2 + 4 * 0.02);
  // The four decode tokens arrive together at the run's end: that is the second token.
  near(r.done!.bd.decodeWait, 4 * 0.02, 'second-token wait = the contiguous run');
  near(r.done!.bd.decode, 0, 'nothing after the second token');
});

test('compat: an arrival cuts a decode run at the next boundary; mixed batch ×1.1', () => {
  const { clock, recs, submitAt } = setup(mono(), cat());
  submitAt(0, 'a', 100, 11); // prompt 0→0.2, decode run of 10 × 0.02 from 0.2
  submitAt(0.25, 'b', 50, 3); // cuts the run at 0.26 (3 iterations... ⌊0.05/0.02⌋+1 = 3 → 0.26)
  clock.run();
  const a = recs.get('a')!;
  const b = recs.get('b')!;
  near(a.tokens[1]!.t, 0.26);
  assert.equal(a.tokens[1]!.n, 3);
  // 0.26: mixed batch: b's prompt (50) + a's decode → (0.1 + 0.001·51) × 1.1
  const mixed = (0.1 + 0.051) * 1.1;
  near(b.tokens[0]!.t, 0.26 + mixed, 'b TTFT end');
  near(b.done!.bd.queue, 0.01);
  // Then a (6 left) and b (2 left) decode together for min(6,2) = 2 iterations.
  near(b.done!.t, 0.26 + mixed + 0.04);
  near(a.done!.t, 0.26 + mixed + 0.04 + 4 * 0.02);
  assert.equal(
    a.tokens.reduce((s, x) => s + x.n, 0),
    11,
  );
});

test('compat: KV transfer is KV(prompt) at 200 GiB/s, not overlapped, TTFT excludes it', () => {
  const spec = { kind: 'split', scheduler: 'splitwise-mixed-pool', pools: { prompt: { machine: 'm', count: 1 }, token: { machine: 'm', count: 1 } } };
  const { clock, recs, submitAt } = setup(spec, cat());
  submitAt(0, 'r', 1000, 3);
  clock.run();
  const r = recs.get('r')!;
  const xfer = (1000 * 2_000_000) / (200 * 1024 ** 3);
  near(r.tokens[0]!.t, 1.1);
  near(r.done!.bd.kvTransfer, xfer);
  near(r.done!.bd.kvTransfer + r.done!.bd.decodeWait, xfer + 2 * 0.02, 'second-token wait = transfer + decode wait');
  near(r.done!.bd.decodeWait, 2 * 0.02, 'the contiguous decode run after the transfer');
  near(r.done!.t, 1.1 + xfer + 2 * 0.02);
  assert.equal(r.done!.bd.promptMachine, 'prompt-0');
  assert.equal(r.done!.bd.tokenMachine, 'token-0');
});

test('compat: a one-token request ends with its prompt phase (no decode task, no KV flow)', () => {
  const split = { kind: 'split', scheduler: 'splitwise-mixed-pool', pools: { prompt: { machine: 'm', count: 1 }, token: { machine: 'm', count: 1 } } };
  for (const spec of [mono(), split]) {
    const { clock, cluster, recs, submitAt } = setup(spec, cat());
    submitAt(0, 'x', 10, 1);
    clock.run();
    const x = recs.get('x')!;
    assert.deepEqual(
      x.tokens.map((t) => t.n),
      [1],
    );
    near(x.tokens[0]!.t, 0.11);
    near(x.done!.t, 0.11);
    assert.equal(x.done!.bd.promptMachine, x.done!.bd.tokenMachine, 'no token machine');
    assert.equal(x.done!.bd.kvTransfer + x.done!.bd.decodeWait + x.done!.bd.decode, 0);
    assert.equal(cluster.inFlight(), 0);
  }
});

test('compat: a request it cannot take fails through onFailed after submit returns (no throw)', () => {
  const { clock, cluster, recs } = setup(mono(), cat());
  let returned = false;
  clock.at(
    0,
    () => {
      cluster.submit(req('z', 10, 0), recorder('z', recs));
      cluster.submit(req('p', 0, 5), recorder('p', recs));
      returned = true;
      assert.equal(recs.get('z')!.failed, undefined, 'not inline');
    },
    EventRank.arrival,
  );
  clock.run();
  assert.ok(returned);
  assert.match(recs.get('z')!.failed!.reason, /outputTokens must be an integer ≥ 1/);
  assert.match(recs.get('p')!.failed!.reason, /promptTokens must be an integer ≥ 1/);
  assert.equal(cluster.inFlight(), 0);
});

test('compat: KV deadlock is reproduced and reported as never-completed', () => {
  // 35 tokens of KV: both prompts (KV 11 each) fit, then neither decode (KV 19) does; nothing retries.
  const { clock, cluster, recs, submitAt } = setup(mono(), cat(35));
  submitAt(0, 'a', 10, 20);
  submitAt(0, 'b', 10, 20);
  clock.run();
  near(recs.get('a')!.tokens[0]!.t, 0.11);
  near(recs.get('b')!.tokens[0]!.t, 0.22, 'b waited for a single-prompt iteration');
  assert.equal(recs.get('a')!.done, undefined);
  assert.equal(recs.get('b')!.done, undefined);
  assert.deepEqual([...cluster.inFlightIds!()].sort(), ['a', 'b']);
  assert.equal(clock.pending(), 0, 'the event queue ran dry');
});
