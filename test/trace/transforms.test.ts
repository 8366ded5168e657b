import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyTransforms, hasTransforms } from '../../src/trace/index.js';
import { collect, fromArray, req } from './helpers.js';

const trace = Array.from({ length: 100 }, (_, i) => req(i * 0.5, i + 1, 1, String(i)));

test('no transforms: the source itself', () => {
  const src = fromArray(trace);
  assert.equal(applyTransforms(src, {}), src);
  assert.equal(hasTransforms({ speedup: 1, sample: 1 }), false);
});

test('window keeps start <= arrival < end and re-bases to start', async () => {
  const rs = await collect(applyTransforms(fromArray(trace), { window: [10, 12] }));
  assert.deepEqual(
    rs.map((r) => [r.id, r.arrival]),
    [
      ['20', 0],
      ['21', 0.5],
      ['22', 1],
      ['23', 1.5],
    ],
  );
});

test('window stops reading the source at its end', async () => {
  let pulled = 0;
  const src = {
    async *[Symbol.asyncIterator]() {
      for (const r of trace) {
        pulled++;
        yield r;
      }
    },
  };
  await collect(applyTransforms(src, { window: [0, 5] }));
  assert.equal(pulled, 11);
});

test('speedup divides arrivals (after the window)', async () => {
  const rs = await collect(applyTransforms(fromArray(trace), { window: [10, 12], speedup: 4 }));
  assert.deepEqual(
    rs.map((r) => r.arrival),
    [0, 0.125, 0.25, 0.375],
  );
  const slow = await collect(applyTransforms(fromArray(trace), { speedup: 0.5, limit: 3 }));
  assert.deepEqual(
    slow.map((r) => r.arrival),
    [0, 1, 2],
  );
});

test('limit keeps the first N, and does not pull more than needed', async () => {
  let pulled = 0;
  const src = {
    async *[Symbol.asyncIterator]() {
      for (const r of trace) {
        pulled++;
        yield r;
      }
    },
  };
  const rs = await collect(applyTransforms(src, { limit: 7 }));
  assert.deepEqual(
    rs.map((r) => r.id),
    ['0', '1', '2', '3', '4', '5', '6'],
  );
  assert.equal(pulled, 7);
});

test('sample is deterministic per seed, about the right fraction, and keeps arrivals', async () => {
  const big = Array.from({ length: 20000 }, (_, i) => req(i, 1, 1, String(i)));
  const a = await collect(applyTransforms(fromArray(big), { sample: 0.25, seed: 7 }));
  const b = await collect(applyTransforms(fromArray(big), { sample: 0.25, seed: 7 }));
  const c = await collect(applyTransforms(fromArray(big), { sample: 0.25, seed: 8 }));
  assert.deepEqual(a, b);
  assert.notDeepEqual(
    a.map((r) => r.id),
    c.map((r) => r.id),
  );
  assert.ok(Math.abs(a.length / 20000 - 0.25) < 0.02, String(a.length));
  for (const r of a) assert.equal(r.arrival, Number(r.id));
});

test('order: window, then sample, then speedup, then limit', async () => {
  const rs = await collect(applyTransforms(fromArray(trace), { window: [5, 50], sample: 0.5, seed: 1, speedup: 2, limit: 5 }));
  const windowed = await collect(applyTransforms(fromArray(trace), { window: [5, 50], sample: 0.5, seed: 1 }));
  assert.equal(rs.length, 5);
  assert.deepEqual(
    rs.map((r) => r.id),
    windowed.slice(0, 5).map((r) => r.id),
  );
  assert.deepEqual(
    rs.map((r) => r.arrival),
    windowed.slice(0, 5).map((r) => r.arrival / 2),
  );
});
