/**
 * The columnar batch a writer buffers rows in (src/store/batch.ts) gives back exactly the bound values it was
 * given, row by row, across growth, with values its columns cannot hold (kept aside) and blobs of any size.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BatchBuilder, batchBuffers, BufferPool, compileReader, constantColumns, viewOf } from '../../src/store/batch.js';
import { encodeChunks, openStore } from '../../src/store/index.js';
import { compileEncoder, REQUEST_TABLE, TIMELINE_TABLE } from '../../src/store/columns.js';

type Rec = Record<string, unknown>;

/** What the INSERT binds for a record: the column table's encoder (bool fields as 0/1). */
function expected(cols: typeof REQUEST_TABLE | typeof TIMELINE_TABLE, rec: Rec): unknown[] {
  return (compileEncoder<Rec>(cols)(rec) as unknown[]).map((v) => (typeof v === 'number' && Number.isNaN(v) ? null : v));
}

function request(i: number): Rec {
  const rec: Rec = {};
  for (const c of REQUEST_TABLE) {
    if (c.kind === 'bool') rec[c.field] = i % 2 === 0;
    else if (c.kind === 'blob') rec[c.field] = i % 5 === 0 ? null : Buffer.from(Array.from({ length: (i * 37) % 300 }, (_, j) => (i + j) & 0xff));
    else if (c.kind === 'text') rec[c.field] = i % 7 === 0 ? null : `${c.field}-${i % 4}`;
    else rec[c.field] = i % 11 === 0 ? null : i * 0.5 - 3;
  }
  return rec;
}

test('a request batch reads back every bound value of every row, in order, past its first capacity', () => {
  const b = new BatchBuilder<Rec>(REQUEST_TABLE, 16);
  const recs = Array.from({ length: 300 }, (_, i) => request(i));
  for (const r of recs) b.add(r);
  const batch = b.take();
  assert.equal(batch.n, 300);
  const read = compileReader(REQUEST_TABLE);
  const out: unknown[] = [];
  const view = viewOf(REQUEST_TABLE, batch);
  for (let i = 0; i < 300; i += 32) {
    const to = Math.min(300, i + 32);
    read(view, i, to, out);
    for (let r = i; r < to; r++) {
      const got = out.slice((r - i) * REQUEST_TABLE.length, (r - i + 1) * REQUEST_TABLE.length).map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v));
      assert.deepStrictEqual(got, expected(REQUEST_TABLE, recs[r]!), `row ${r}`);
    }
  }
  // The builder starts afresh after a take.
  assert.equal(b.take().n, 0);
});

test('values a column cannot hold come back as given: strings in number columns, -0, Infinity, bigint, undefined', () => {
  const b = new BatchBuilder<Rec>(TIMELINE_TABLE);
  const rows: Rec[] = [
    { runId: 1, t: -0, source: 'engine', role: '', name: 'a', labels: '{}', value: Number.POSITIVE_INFINITY },
    { runId: 1, t: '12', source: 3, role: null, name: 'b', labels: '{"m":"x"}', value: 10n },
    { runId: 1, t: Number.NaN, source: 'engine', role: '', name: 'c', labels: '{}', value: undefined },
  ];
  for (const r of rows) b.add(r);
  const out: unknown[] = [];
  compileReader(TIMELINE_TABLE)(viewOf(TIMELINE_TABLE, b.take()), 0, 3, out);
  const w = TIMELINE_TABLE.length;
  assert.ok(Object.is(out[1], -0));
  assert.deepStrictEqual(out.slice(0, w), [1, -0, 'engine', '', 'a', '{}', Number.POSITIVE_INFINITY]);
  assert.deepStrictEqual(out.slice(w, 2 * w), [1, '12', 3, null, 'b', '{"m":"x"}', 10n]);
  assert.deepStrictEqual(out.slice(2 * w), [1, null, 'engine', '', 'c', '{}', undefined]);
});

test('columns that hold one value in a whole batch are written as literals only where a literal stores the same value', () => {
  const b = new BatchBuilder<Rec>(TIMELINE_TABLE);
  for (let i = 0; i < 40; i++) b.add({ runId: 3, t: -0, source: "it's", role: 'a\u0000b', name: null, labels: '{}', value: 2 ** 53 });
  assert.deepStrictEqual(constantColumns(TIMELINE_TABLE, b.take()), ['3', undefined, "'it''s'", undefined, 'NULL', "'{}'", undefined]);
  for (let i = 0; i < 40; i++) b.add({ runId: 3, t: i, source: 'x', role: '', name: 'n', labels: '{}', value: i === 39 ? '1' : 1 });
  assert.deepStrictEqual(constantColumns(TIMELINE_TABLE, b.take()), ['3', undefined, "'x'", "''", "'n'", "'{}'", undefined]);
});

test('a store keeps constant columns as one-row inserts store them: quotes, NUL, -0, fractions, big integers, lone surrogates', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-batch-'));
  const store = openStore(path.join(dir, 's.db'));
  try {
    const cases = [
      { source: "it's 'quoted'", role: 'a\u0000b', name: 'm\ud800', value: -0, t: 0.1 },
      { source: 'engine', role: '', name: 'n', value: 2 ** 53 + 2, t: 1 / 3 },
      { source: 'e', role: 'r', name: 'n', value: 7, t: -0 },
    ];
    for (const [k, o] of cases.entries()) {
      // Batches of 70 rows (groups with literals) against batches of one row (one-row inserts, all bound).
      const runs = [100_000, 1].map((batchRows) => {
        const w = store.createRun({ kind: 'sim', options: {} }, { batchRows });
        for (let i = 0; i < 70; i++) w.addTimelineSample({ t: o.t, source: o.source, role: o.role, name: o.name, value: o.value });
        w.finish('completed');
        return store.timelineSamples(w.runId);
      });
      assert.equal(runs[0]!.length, 70, `case ${k}`);
      assert.deepStrictEqual(runs[0], runs[1], `case ${k}`);
      assert.equal(runs[0]![0]!.source, o.source, `case ${k}`);
    }
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a view goes through rows in key order, or as added when a key column holds NULL or a value kept aside', () => {
  const keyed = (seqs: unknown[]): number[] => {
    const b = new BatchBuilder<Rec>(TIMELINE_TABLE);
    for (const [i, t] of seqs.entries()) b.add({ runId: 1, t, source: 's', role: '', name: `n${i}`, labels: '{}', value: i });
    return [...viewOf(TIMELINE_TABLE, b.take(), [0, 1]).order];
  };
  assert.deepStrictEqual(keyed([5, 1, 3, 1, 0]), [4, 1, 3, 2, 0]);
  assert.deepStrictEqual(keyed([5, null, 3]), [0, 1, 2]);
  assert.deepStrictEqual(keyed([5, '1', 3]), [0, 1, 2]);
});

test('a buffer pool gives the smallest buffer that fits, else a new one; it keeps only large ones, within its bounds', () => {
  const pool = new BufferPool(3, 5 * 2 ** 20);
  const mb = (n: number): ArrayBuffer => new ArrayBuffer(n * 2 ** 20);
  const [a, b, c] = [mb(2), mb(1), mb(1.5)];
  for (const x of [a, b, c]) pool.give(x);
  pool.give(new ArrayBuffer(1000)); // too small to pool
  pool.give(mb(1)); // past the count (3)
  assert.equal(pool.size, 3);
  assert.equal(pool.get(1.2 * 2 ** 20), c);
  assert.equal(pool.get(2 ** 20), b);
  const fresh = pool.get(3 * 2 ** 20 + 1);
  assert.ok(fresh !== a && fresh.byteLength >= 3 * 2 ** 20 + 1 && fresh.byteLength % 65536 === 0, 'a new one, rounded up');
  assert.equal(pool.size, 1);
  pool.give(mb(3.5)); // past the bytes (5 MiB with the 2 MiB one held)
  assert.equal(pool.size, 1);
  assert.equal(pool.get(2 ** 20), a);
  // A buffer moved to another thread (detached) has no bytes: not kept.
  const moved = mb(1);
  structuredClone(moved, { transfer: [moved] });
  pool.give(moved);
  assert.equal(pool.size, 0);
});

test('a large batch is taken into buffers given back, and reads back every value', () => {
  const b = new BatchBuilder<Rec>(REQUEST_TABLE, 4096);
  const recs = Array.from({ length: 3000 }, (_, i) => request(i));
  for (const r of recs) b.add(r);
  const first = b.take();
  const bufs = [first.num.buffer, first.text.buffer, first.bytes.buffer] as ArrayBuffer[];
  assert.ok(first.num.byteLength >= 65536 && first.bytes.byteLength >= 65536, 'large enough to pool');
  for (const x of bufs) batchBuffers.give(x);
  for (const r of recs.slice(0, 2900).reverse()) b.add(r);
  const again = b.take();
  assert.ok(bufs.includes(again.num.buffer as ArrayBuffer) && bufs.includes(again.bytes.buffer as ArrayBuffer), 'the given-back buffers carry the next batch');
  const read = compileReader(REQUEST_TABLE);
  const out: unknown[] = [];
  const view = viewOf(REQUEST_TABLE, again);
  const want = recs.slice(0, 2900).reverse();
  for (let r = 0; r < again.n; r++) {
    read(view, r, r + 1, out);
    assert.deepStrictEqual(
      out.map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v)),
      expected(REQUEST_TABLE, want[r]!),
      `row ${r}`,
    );
  }
});

test("a bulk writer's thread gives each batch's buffers back, and the rows it then writes in them are stored as given", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-pool-'));
  try {
    const store = openStore(path.join(dir, 's.db'));
    const w = store.createRun({ kind: 'sim', options: {} }, { bulk: true, batchRows: 2000 });
    const rows = Array.from({ length: 12_000 }, (_, seq) => {
      const at = seq / 7;
      const chunks = Array.from({ length: 5 + (seq % 20) }, (_, i) => ({ t: 0.5 + i * 0.03 + seq * 1e-5, tokens: 1 }));
      return {
        seq,
        traceId: `r${seq}`,
        promptTokens: 10 + (seq % 300),
        outputTokens: chunks.length,
        tokensReceived: chunks.length,
        status: 'ok' as const,
        arrival: at,
        scheduled: at,
        send: at,
        firstToken: at + 0.5,
        end: at + chunks.at(-1)!.t,
        tokenTimesBlob: encodeChunks(chunks),
      };
    });
    const give = batchBuffers.give;
    let given = 0;
    batchBuffers.give = function (this: typeof batchBuffers, b: ArrayBuffer) {
      if (b.byteLength >= 65536) given++;
      give.call(this, b);
    };
    try {
      for (const r of rows) w.addRequest(r);
      w.finish('completed');
    } finally {
      batchBuffers.give = give;
    }
    assert.ok(given >= 6, `large buffers given back by the thread: ${given}`);
    const back = [...store.requestRows(w.runId, ['seq', 'promptTokens', 'end', 'tokenTimes'])];
    assert.equal(back.length, rows.length);
    for (const r of rows) {
      const got = back[r.seq]!;
      assert.deepStrictEqual(
        [got.seq, got.promptTokens, got.end, Buffer.from(got.tokenTimes!)],
        [r.seq, r.promptTokens, r.end, Buffer.from(r.tokenTimesBlob)],
        `row ${r.seq}`,
      );
    }
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
