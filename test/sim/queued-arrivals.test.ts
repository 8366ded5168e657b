/**
 * The compatible mode's queued arrivals: a whole trace waits in the cluster's heap as numbers (the heap's
 * `pushArrival`, the simulator's typed arrays of sizes, ids rebuilt from their pattern). The heap must
 * order them exactly as the event objects they replace, and every request must come back as given.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { PyHeap, type HeapEvent } from '../../src/engine/compat/heapq.js';
import { simulate } from '../../src/sim/index.js';
import { QueuedSpecs } from '../../src/sim/simulate.js';
import type { RequestRow } from '../../src/store/index.js';
import type { RequestSpec } from '../../src/trace/index.js';
import { defineDeployment, loadEngineData } from '../../src/config/index.js';
import { seededRandom } from '../../src/engine/index.js';

test('heap: queued arrivals (numbers) pop in the order event objects at their times would', () => {
  const r = seededRandom(11);
  const objects = new PyHeap();
  const mixed = new PyHeap();
  let arrivals = 0;
  const label = new Map<number, string>();
  const outA: string[] = [];
  const outB: string[] = [];
  const pop = (h: PyHeap, out: string[]): void => {
    const e = h.pop()!;
    out.push(typeof e === 'number' ? label.get(e)! : (e as HeapEvent & { tag: string }).tag);
  };
  let t = 0;
  for (let k = 0; k < 3000; k++) {
    const x = r();
    if (x < 0.35 && objects.length > 0) {
      pop(objects, outA);
      pop(mixed, outB);
      continue;
    }
    if (x < 0.6) t += [0, 0.25, 1][Math.floor(r() * 3)]!;
    const time = x < 0.8 ? t : t + [0.25, 0.5, 1][Math.floor(r() * 3)]!;
    const tag = `e${k}`;
    objects.push({ time, action: () => {}, cancelled: false, tag } as HeapEvent);
    if (x < 0.8) {
      label.set(arrivals, tag);
      assert.equal(mixed.pushArrival(time), arrivals++);
    } else mixed.push({ time, action: () => {}, cancelled: false, tag } as HeapEvent);
    assert.equal(mixed.headTime(), objects.headTime());
  }
  while (objects.length > 0) {
    pop(objects, outA);
    pop(mixed, outB);
  }
  assert.equal(mixed.length, 0);
  assert.ok(arrivals > 1000 && outA.length > 1000, `${arrivals} arrivals, ${outA.length} pops`);
  assert.deepEqual(outB, outA);
  assert.equal(mixed.headTime(), Infinity);
});

/** `specs` simulated in the compatible mode on two DGX-H100s: its ok count and its rows in seq order. */
async function simulateQueued(specs: readonly RequestSpec[]): Promise<{ ok: number; rows: RequestRow[] }> {
  const dep = defineDeployment({ kind: 'monolithic', model: 'llama2-70b', pools: { mixed: { machine: 'dgx-h100', count: 2 } } });
  const rows: RequestRow[] = [];
  const r = await simulate({
    deployment: dep,
    data: loadEngineData({ splitwise: true }),
    compat: 'splitwise',
    requests: specs,
    sink: { addRequest: (row) => rows.push(row) },
    sampleIntervalS: 0,
  });
  return { ok: r.ok, rows: rows.sort((a, b) => a.seq - b.seq) };
}

test('compat sim: queued requests come back with their ids, sizes, sessions and hashes, whatever the id pattern', async () => {
  const specs: RequestSpec[] = [
    { id: 'r7', arrival: 0, promptTokens: 100, outputTokens: 10 },
    { id: 'r8', arrival: 0.1, promptTokens: 200, outputTokens: 3 },
    { id: 'odd', arrival: 0.1, promptTokens: 50, outputTokens: 5 },
    { id: 'r10', arrival: 0.2, promptTokens: 60, outputTokens: 1 },
    { id: 'r11', arrival: 0.3, promptTokens: 70, outputTokens: 4, sessionId: 'conv-1' },
    { id: 'r12', arrival: 0.3, promptTokens: 80, outputTokens: 4, hashIds: [1, 2] },
    { id: 'r13', arrival: 0.5, promptTokens: 90, outputTokens: 6 },
    { id: 'r9', arrival: 0.6, promptTokens: 40, outputTokens: 2 },
  ];
  const { ok, rows } = await simulateQueued(specs);
  assert.equal(ok, specs.length);
  assert.deepEqual(
    rows.map((x) => [x.seq, x.traceId, x.arrival, x.promptTokens, x.outputTokens, x.sessionId, x.tokensReceived]),
    specs.map((s, i) => [i, s.id, s.arrival, s.promptTokens, s.outputTokens, s.sessionId, s.outputTokens]),
  );
});

test('compat sim: queued sizes past 16 bits widen the typed arrays, earlier sizes kept', async () => {
  // 3,000 requests: the sizes' array has grown before the wide one arrives, and more come after it.
  const specs: RequestSpec[] = Array.from({ length: 3000 }, (_, i) => ({
    id: `r${i}`,
    arrival: i * 0.01,
    promptTokens: i === 2500 ? 70_000 : 1 + ((i * 37) % 900),
    outputTokens: i === 2600 ? 65_536 : 1 + ((i * 13) % 7),
  }));
  const { rows } = await simulateQueued(specs);
  assert.deepEqual(
    rows.map((x) => [x.traceId, x.promptTokens, x.outputTokens]),
    specs.map((s) => [s.id, s.promptTokens, s.outputTokens]),
  );
});

test('queued sizes: every request comes back as added, across growth by half (odd lengths) and widening', () => {
  const q = new QueuedSpecs();
  const n = 300_000;
  const size = (i: number): [number, number] => [i === 150_000 ? 100_000 : 1 + ((i * 7919) % 65_535), 1 + ((i * 104_729) % 65_535)];
  for (let i = 0; i < n; i++) {
    const [p, o] = size(i);
    q.add(i, { id: `r${i}`, arrival: i, promptTokens: p, outputTokens: o });
  }
  for (let i = 0; i < n; i++) {
    const [p, o] = size(i);
    const got = q.take(i, i);
    if (got.id !== `r${i}` || got.promptTokens !== p || got.outputTokens !== o) assert.fail(`request ${i}: ${JSON.stringify(got)}`);
  }
});

test('heap: 300,000 queued arrivals (its arrays past 1 MiB, a mapping of their own) pop in time order', () => {
  const h = new PyHeap();
  for (let i = 0; i < 300_000; i++) assert.equal(h.pushArrival(Math.floor(i / 3)), i);
  let last = -1;
  for (let i = 0; i < 300_000; i++) {
    const t = h.headTime();
    const e = h.pop();
    if (typeof e !== 'number' || t < last || Math.floor(e / 3) !== t) assert.fail(`pop ${i}: ${String(e)} at ${t}`);
    last = t;
  }
  assert.equal(h.length, 0);
});
