/**
 * The writer inserts rows several to a statement (groups of 32, then one by one): every row lands with its
 * values, in order, whatever the batch size; a group holding a bad row fails as a whole, its rows are
 * retried one by one so the error names the bad one, and the batch's transaction commits nothing.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type RequestRow, type Store } from '../../src/store/index.js';

/** Run `f` on a fresh store file, closed and removed afterwards. */
function withStore(f: (store: Store) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-multirow-'));
  const store = openStore(path.join(dir, 's.db'));
  try {
    f(store);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Row `seq`: sent at seq/3 s, first token 0.25 s and end 0.5 s later. */
function row(seq: number): RequestRow {
  const at = seq / 3;
  const times = { arrival: at, scheduled: at, send: at, firstToken: at + 0.25, end: at + 0.5 };
  return { seq, traceId: `r${seq}`, promptTokens: 5 + seq, outputTokens: 2, tokensReceived: 2, status: 'ok', ...times };
}

for (const bulk of [false, true]) {
  test(`multi-row inserts store every row in order (${bulk ? 'bulk writer thread' : 'in thread'})`, () => {
    withStore((store) => {
      const w = store.createRun({ kind: 'sim', options: {} }, { bulk, batchRows: 1000 });
      for (let i = 0; i < 75; i++) w.addRequest(row(i)); // two groups of 32 and 11 single rows
      for (let i = 0; i < 40; i++) w.addPowerSample({ t: i, machineId: `m${i % 3}`, role: 'mixed', source: 'model', watts: 100 + i, energyJ: i * 7 });
      w.finish('completed');
      const got = [...store.requestRows(w.runId, ['seq', 'traceId', 'promptTokens', 'firstToken', 'end'])];
      assert.deepStrictEqual(
        got,
        Array.from({ length: 75 }, (_, i) => ({ seq: i, traceId: `r${i}`, promptTokens: 5 + i, firstToken: i / 3 + 0.25, end: i / 3 + 0.5 })),
      );
      const power = store.powerSamples(w.runId, { by: 'time' });
      assert.equal(power.length, 40);
      assert.deepStrictEqual(
        power.map((p) => [p.t, p.machineId, p.watts, p.energyJ]),
        Array.from({ length: 40 }, (_, i) => [i, `m${i % 3}`, 100 + i, i * 7]),
      );
    });
  });
}

test('a bad row inside a group of a multi-row insert is named, and its batch commits nothing', () => {
  withStore((store) => {
    const w = store.createRun({ kind: 'sim', options: {} }, { batchRows: 1000 });
    for (let i = 0; i < 10; i++) w.addRequest(row(i));
    w.flush();
    // 40 more rows; the 21st repeats seq 7 (inside the first group of 32).
    for (let i = 10; i < 50; i++) w.addRequest(row(i === 30 ? 7 : i));
    assert.throws(
      () => w.flush(),
      (e: Error) => /request shard 0 seq 7\b/.test(e.message) && /UNIQUE|PRIMARY/i.test(e.message),
    );
    assert.equal(store.requestCounts(w.runId).total, 10);
  });
});

test('a bulk writer spawns its thread ahead of the first full batch, and ends one it never used', () => {
  withStore((store) => {
    // 120 rows, batches of 50: the thread is spawned at row 10 and writes from the first full batch (the
    // full batches that come while it starts are kept for it, not waited on, and committed in order).
    const used = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 50 });
    for (let i = 0; i < 120; i++) used.addRequest(row(i));
    used.finish('completed');
    assert.equal(store.requestCounts(used.runId).total, 120);
    assert.deepStrictEqual(
      [...store.requestRows(used.runId, ['seq', 'traceId'])],
      Array.from({ length: 120 }, (_, i) => ({ seq: i, traceId: `r${i}` })),
    );
    // 30 rows: spawned at row 10, never used (no full batch); finish writes them here and ends the thread.
    const unused = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 50 });
    for (let i = 0; i < 30; i++) unused.addRequest(row(i));
    unused.finish('completed');
    assert.equal(store.requestCounts(unused.runId).total, 30);
  });
});
