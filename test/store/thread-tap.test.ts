/**
 * A writer's request tap that can run on its thread (RequestTap.thread): every request row goes to exactly
 * one of the two taps, as the store holds it. With a writer thread from the first committed rows, the
 * thread's tap gets them all and `tapResult()` gives its result; when the first rows were committed here
 * (a timer flush before the thread started), when the thread's tap cannot be built, when `data()` gives
 * nothing and on an in-memory store, `add` gets them all (copied out of batches sent to the thread).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeChunks, openStore, type RequestRow, type RequestTap, type Store } from '../../src/store/index.js';

const TAP = new URL('./fixtures/count-tap.js', import.meta.url).href;

async function withStore(file: string | undefined, f: (store: Store) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-tap-'));
  const store = openStore(file ?? path.join(dir, 's.db'));
  try {
    await f(store);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Row `seq` with `seq % 5 + 1` chunks of token times (its blob as the simulator hands it over). */
function row(seq: number): RequestRow {
  const at = seq / 3;
  const chunks = Array.from({ length: (seq % 5) + 1 }, (_, i) => ({ t: 0.25 + i * 0.031 + seq * 1e-4, tokens: 1 + (i % 2) }));
  const tokens = chunks.reduce((a, c) => a + c.tokens, 0);
  return {
    seq,
    traceId: `r${seq}`,
    promptTokens: 5 + seq,
    outputTokens: tokens,
    tokensReceived: tokens,
    status: 'ok',
    arrival: at,
    scheduled: at,
    send: at,
    firstToken: at + 0.25,
    end: at + chunks.at(-1)!.t,
    tokenTimesBlob: encodeChunks(chunks),
  };
}

/** A tap that keeps what `add` gets (seq and token-time bytes), and its thread form. */
function tap(data: () => unknown): { tap: RequestTap<'seq' | 'tokenTimes'>; got: { seq: number; bytes: number[] }[] } {
  const got: { seq: number; bytes: number[] }[] = [];
  return { got, tap: { fields: ['seq', 'tokenTimes'], add: (r) => got.push({ seq: r.seq, bytes: [...(r.tokenTimes ?? [])] }), thread: { module: TAP, data } } };
}

/** The rows as the store holds them (seq order). */
function stored(store: Store, runId: number): { seq: number; bytes: number[] }[] {
  return [...store.requestRows(runId, ['seq', 'tokenTimes'])].map((r) => ({ seq: r.seq, bytes: [...(r.tokenTimes ?? [])] }));
}

test('rows committed on the writer thread go to its tap, whose result tapResult() gives', async () => {
  await withStore(undefined, (store) => {
    const t = tap(() => ({ tag: 'on the thread' }));
    const w = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 50, requestTap: t.tap });
    for (let i = 0; i < 120; i++) w.addRequest(row(i));
    assert.throws(() => w.tapResult?.(), /before finish/);
    w.finish('completed');
    const r = w.tapResult?.();
    assert.ok(r, 'the thread kept the rows');
    assert.deepStrictEqual(r.value, { tag: 'on the thread', runId: w.runId, rows: stored(store, w.runId) });
    assert.equal(t.got.length, 0, 'add got none of them');
    assert.throws(() => w.tapResult?.(), /taken already/);
  });
});

test('rows first committed here all go to add, also those the thread commits later', async () => {
  await withStore(undefined, async (store) => {
    const t = tap(() => ({ tag: 'unused' }));
    const w = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 50, flushIntervalMs: 10, requestTap: t.tap });
    // 5 rows, committed here by the timer (the thread is spawned at 10 pending rows).
    for (let i = 0; i < 5; i++) w.addRequest(row(i));
    await sleep(60);
    assert.equal(store.requestCounts(w.runId).total, 5);
    for (let i = 5; i < 120; i++) w.addRequest(row(i));
    w.finish('completed');
    assert.equal(w.tapResult?.(), undefined);
    assert.deepStrictEqual(
      t.got.sort((a, b) => a.seq - b.seq),
      stored(store, w.runId),
      'every row, its token times intact after its batch moved to the thread',
    );
  });
});

for (const [what, data, file] of [
  ['the thread tap cannot be built', () => ({ tag: 'x', fail: true }), undefined],
  ['data() gives nothing', () => undefined, undefined],
  ['an in-memory store', () => ({ tag: 'x' }), ':memory:'],
] as const) {
  test(`all rows go to add when ${what}`, async () => {
    await withStore(file, (store) => {
      const t = tap(data);
      const w = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 50, requestTap: t.tap });
      for (let i = 0; i < 120; i++) w.addRequest(row(i));
      w.finish('completed');
      assert.equal(w.tapResult?.(), undefined);
      assert.deepStrictEqual(
        t.got.sort((a, b) => a.seq - b.seq),
        stored(store, w.runId),
      );
    });
  });
}

test('expectRows starts a bulk writer thread before its first row, for a fifth of a batch or more', async () => {
  await withStore(undefined, (store) => {
    let asked = 0;
    const t = tap(() => {
      asked++;
      return { tag: 'started early' };
    });
    const w = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 50, requestTap: t.tap });
    w.expectRows?.(9);
    assert.equal(asked, 0, 'under a fifth of a batch expected: no thread yet');
    w.expectRows?.(10);
    assert.equal(asked, 1, 'the thread starts now (its tap data is asked as it starts)');
    for (let i = 0; i < 120; i++) w.addRequest(row(i));
    w.expectRows?.(1000);
    assert.equal(asked, 1, 'one thread');
    w.finish('completed');
    assert.deepStrictEqual(w.tapResult?.()?.value, { tag: 'started early', runId: w.runId, rows: stored(store, w.runId) });
    assert.equal(t.got.length, 0);
    assert.throws(() => w.expectRows?.(10), /after finish/);
  });
});
