/**
 * The columnar batch a writer buffers rows in (src/store/batch.ts) gives back exactly the bound values it was
 * given, row by row, across growth, with values its columns cannot hold (kept aside) and blobs of any size.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { BatchBuilder, compileReader } from '../../src/store/batch.js';
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
  let at = 0;
  for (let i = 0; i < 300; i += 32) {
    const to = Math.min(300, i + 32);
    at = read(batch, i, to, out, at);
    for (let r = i; r < to; r++) {
      const got = out.slice((r - i) * REQUEST_TABLE.length, (r - i + 1) * REQUEST_TABLE.length).map((v) => (v instanceof Uint8Array ? Buffer.from(v) : v));
      assert.deepStrictEqual(got, expected(REQUEST_TABLE, recs[r]!), `row ${r}`);
    }
  }
  assert.equal(at, batch.bytes.length);
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
  compileReader(TIMELINE_TABLE)(b.take(), 0, 3, out, 0);
  const w = TIMELINE_TABLE.length;
  assert.ok(Object.is(out[1], -0));
  assert.deepStrictEqual(out.slice(0, w), [1, -0, 'engine', '', 'a', '{}', Number.POSITIVE_INFINITY]);
  assert.deepStrictEqual(out.slice(w, 2 * w), [1, '12', 3, null, 'b', '{"m":"x"}', 10n]);
  assert.deepStrictEqual(out.slice(2 * w), [1, null, 'engine', '', 'c', '{}', undefined]);
});
