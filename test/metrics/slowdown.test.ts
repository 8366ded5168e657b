import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceLatency } from '../../src/engine/index.js';
import { referenceFromRun, resolveReference, summarizeRun, findRun } from '../../src/metrics/index.js';
import { evenChunks, insertRequest, insertRun, makeStore, near } from './helpers.js';
import { loadEngineData } from '../../src/config/index.js';

const data = loadEngineData();

test('performance-model reference: slowdown = measured / referenceLatency of the same request on a DGX-A100', async () => {
  const { db, store } = makeStore();
  const id = insertRun(db, { name: 'pm', model: 'llama2-70b' });
  const sizes = [
    [1024, 16],
    [300, 40],
  ] as const;
  sizes.forEach(([p, o], i) => {
    const ref = referenceLatency({ model: 'llama2-70b', machine: 'dgx-a100', promptTokens: p, outputTokens: o, data });
    // TTFT 2× the reference, each decode step 1.5× the reference tpot.
    const ttft = 2 * ref.ttft;
    const gap = 1.5 * ref.tpot;
    insertRequest(db, id, { seq: i, scheduled: i, prompt: p, output: o, tokens: o, ttft, e2e: ttft + gap * (o - 1), chunks: evenChunks(o, ttft, gap) });
  });
  const run = findRun(store, id);
  const reference = (await resolveReference(store, run, { required: true }))!;
  assert.match(reference.describe, /llama2-70b alone on one dgx-a100/);
  const s = summarizeRun(store, id, { reference });
  assert.equal(s.slowdown!.matched, 2);
  assert.ok(near(s.slowdown!.ttft!.max, 2) && near(s.slowdown!.ttft!.p50, 2));
  assert.ok(near(s.slowdown!.tpot!.max, 1.5) && near(s.slowdown!.tbt!.p50, 1.5));
  const e2eWant = sizes.map(([p, o]) => {
    const ref = referenceLatency({ model: 'llama2-70b', machine: 'dgx-a100', promptTokens: p, outputTokens: o, data });
    return (2 * ref.ttft + 1.5 * ref.tpot * (o - 1)) / ref.e2e;
  });
  assert.ok(near(s.slowdown!.e2e!.max, Math.max(...e2eWant)));
});

test('compat runs use the splitwise reference mode and TBT = (E2E − TTFT) / tokens', async () => {
  const { db, store } = makeStore();
  const id = insertRun(db, { name: 'sw', model: 'bloom-176b', options: { compat: 'splitwise' } });
  const [p, o] = [1500, 10];
  const ref = referenceLatency({ model: 'bloom-176b', machine: 'dgx-a100', promptTokens: p, outputTokens: o, mode: 'splitwise', data });
  const e2e = ref.ttft + 3 * ref.tpot * o; // TBT_sw = 3 × ref tpot
  insertRequest(db, id, { seq: 0, scheduled: 0, prompt: p, output: o, tokens: o, ttft: ref.ttft, e2e });
  const reference = (await resolveReference(store, findRun(store, id), { required: true }))!;
  assert.match(reference.describe, /SplitwiseSim reference/);
  const s = summarizeRun(store, id, { reference });
  assert.ok(near(s.slowdown!.ttft!.p50, 1));
  assert.ok(near(s.slowdown!.tbt!.p50, 3), `tbt slowdown ${s.slowdown!.tbt!.p50}`);
  assert.ok(near(s.slowdown!.e2e!.p50, e2e / ref.e2e));
});

test('reference run: matched by trace id, else by (prompt, output) sizes', () => {
  const { db, store } = makeStore();
  const base = insertRun(db, { name: 'unloaded' });
  insertRequest(db, base, { seq: 0, traceId: 'a', scheduled: 0, prompt: 100, output: 3, tokens: 3, ttft: 0.1, e2e: 0.3 });
  insertRequest(db, base, { seq: 1, traceId: 'b', scheduled: 1, prompt: 200, output: 3, tokens: 3, ttft: 0.2, e2e: 0.4 });
  insertRequest(db, base, { seq: 2, traceId: 'c', scheduled: 2, prompt: 200, output: 3, tokens: 3, ttft: 0.4, e2e: 0.6 });
  const loaded = insertRun(db, { name: 'loaded' });
  insertRequest(db, loaded, { seq: 0, traceId: 'a', scheduled: 0, prompt: 100, output: 3, tokens: 3, ttft: 0.3, e2e: 0.5 });
  // no trace id match: sizes (200, 3) → mean of b and c: ttft 0.3, e2e 0.5
  insertRequest(db, loaded, { seq: 1, traceId: 'zz', scheduled: 1, prompt: 200, output: 3, tokens: 3, ttft: 0.6, e2e: 1.0 });
  // no match at all
  insertRequest(db, loaded, { seq: 2, traceId: 'yy', scheduled: 2, prompt: 999, output: 3, tokens: 3, ttft: 1, e2e: 2 });
  const s = summarizeRun(store, 'loaded', { reference: referenceFromRun(store, 'unloaded') });
  assert.equal(s.slowdown!.matched, 2);
  // two matched requests: p50 is the midpoint of the two (linear interpolation)
  assert.ok(near(s.slowdown!.ttft!.p50, 2.5, 1e-12) && near(s.slowdown!.ttft!.max, 3, 1e-12), JSON.stringify(s.slowdown!.ttft));
  assert.ok(near(s.slowdown!.e2e!.p50, (5 / 3 + 2) / 2, 1e-12) && near(s.slowdown!.e2e!.max, 2, 1e-12));
  // tpot: a (0.5-0.3)/2 = 0.1 vs 0.1 → 1; zz (1.0-0.6)/2 = 0.2 vs mean(0.1, 0.1) → 2
  assert.ok(near(s.slowdown!.tpot!.p50, 1.5, 1e-12) && near(s.slowdown!.tpot!.max, 2, 1e-12));
});

test('a reference that cannot be built is a usage error when asked for, and silently absent otherwise', async () => {
  const { db, store } = makeStore();
  const id = insertRun(db, { name: 'nomodel', model: null });
  insertRequest(db, id, { seq: 0, scheduled: 0, ttft: 0.1, e2e: 0.2, tokens: 2, output: 2 });
  const run = findRun(store, id);
  assert.equal(await resolveReference(store, run, { required: false }), undefined);
  await assert.rejects(resolveReference(store, run, { required: true }), /does not record its model/);
  const id2 = insertRun(db, { name: 'm', model: 'llama2-70b' });
  await assert.rejects(resolveReference(store, findRun(store, id2), { required: true, referenceMachine: 'no-such-machine' }), /no-such-machine/);
  const empty = insertRun(db, { name: 'empty' });
  assert.throws(() => referenceFromRun(store, empty), /has no ok requests/);
});
